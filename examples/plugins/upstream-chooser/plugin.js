// Dynamic upstream chooser. In UPSTREAM, in this order:
//  1. a tester may force one of cfg.upstreams with the x-upstream header (when cfg.allowOverride);
//  2. a tenant sub-domain (acme.example.com) goes to its own backend, cfg.tenantEndpoint with {tenant} replaced:
//     a DNS name such as acme.tenants.svc.cluster.local:8080 that the gateway resolves through its DNS cache;
//  3. cfg.canaryPercent of clients (a stable hash of x-user, else the client IP) go to cfg.canary.
/**
 * @param {Exchange} ex
 * @param {any} cfg
 * @returns {Reply | void}
 */
export function onUpstream(ex, cfg) {
  const forced = ex.request.headers.get("x-upstream");
  const host = ex.request.host ?? "";
  const tenant = host.endsWith("." + cfg.tenantDomain) ? host.slice(0, -cfg.tenantDomain.length - 1) : null;
  if (cfg.allowOverride && forced !== null && cfg.upstreams.includes(forced)) {
    ex.useUpstream(forced);
  } else if (tenant !== null && cfg.tenantEndpoint !== "" && /^[a-z0-9-]{1,63}$/.test(tenant)) {
    ex.useEndpoint(cfg.tenantEndpoint.replace("{tenant}", tenant));
  } else if (cfg.canary !== "") {
    const key = ex.request.headers.get("x-user") ?? ex.client.ip;
    if (parseInt(torii.sha256(key).slice(0, 8), 16) % 100 < cfg.canaryPercent) ex.useUpstream(cfg.canary);
  }
  ex.vars.upstream = ex.upstream;
}

/**
 * @param {Exchange} ex
 * @param {any} cfg
 * @returns {Reply | void}
 */
export function onResponse(ex, cfg) {
  ex.response.headers.set("x-upstream", ex.vars.upstream ?? "none");
}
