// Maintenance switch: while on, every request gets 503 with a page and Retry-After, except operators (by IP or by a
// bypass token) and health checks. It is on when cfg.enabled is true or when the shared flag
// torii.shared("maintenance") "on" is true; operators flip that flag at run time with PUT/DELETE on cfg.switchPath
// and the token, and Java code can set it with ScriptRuntime.shared("maintenance").set("on", true, null).
export function onRequest(ex, cfg) {
  const flags = torii.shared("maintenance");
  const token = ex.request.headers.get("x-maintenance-token");
  const operator = cfg.allow.includes(ex.client.ip) || (cfg.token !== "" && token !== null && torii.timingSafeEqual(token, cfg.token));
  if (ex.request.path === cfg.switchPath && operator) {
    if (ex.request.method === "PUT") flags.set("on", true);
    else if (ex.request.method === "DELETE") flags.delete("on");
    return ex.respond(200, "maintenance " + (flags.get("on") === true ? "on" : "off") + "\n");
  }
  if (!(cfg.enabled || flags.get("on") === true) || operator || ex.request.path === cfg.healthPath) return;
  return ex.respond(503, cfg.page, { "retry-after": String(cfg.retryAfter), "cache-control": "no-store" });
}
