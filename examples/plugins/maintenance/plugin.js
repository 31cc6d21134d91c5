// A maintenance page with exceptions, driven by the gateway's maintenance switch (torii.maintenance.enabled: the flag
// file, the admin API or MaintenanceMode.enable()). Configure the switch with `maintenance: { respond: false, ... }`
// so that the gateway holds the state and this plugin answers. While it is on: health checks, operators with the
// token and, with cfg.readOnly, safe methods pass; everyone else gets the page with Retry-After.
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * @param {Exchange} ex
 * @param {any} cfg
 * @returns {Reply | void}
 */
export function onRequest(ex, cfg) {
  if (!torii.maintenance.enabled || ex.request.path === cfg.healthPath) return;
  const token = ex.request.headers.get("x-maintenance-token");
  if (cfg.token !== "" && token !== null && torii.timingSafeEqual(token, cfg.token)) return;
  if (cfg.readOnly && SAFE.has(ex.request.method)) return;
  return ex.respond(503, cfg.page, {
    "content-type": cfg.contentType, "retry-after": String(cfg.retryAfter), "cache-control": "no-store",
  });
}

// What passed during maintenance says so, e.g. for operators checking the site.
/**
 * @param {Exchange} ex
 * @param {any} cfg
 * @returns {Reply | void}
 */
export function onResponse(ex, cfg) {
  if (torii.maintenance.enabled) ex.response.headers.set("x-maintenance", "on");
}
