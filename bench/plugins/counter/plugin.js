// Equivalent of bench/lua.nginx.conf.in's access_by_lua_block: a fixed 1-second window per client key.
/**
 * @param {Exchange} ex
 * @param {any} cfg
 * @returns {Reply | void}
 */
export function onRequest(ex, cfg) {
  const key = ex.request.headers.get("x-client") ?? ex.client.ip;
  const n = torii.shared("limiter").incr(key, 1, { ttl: "1s" });
  if (n > cfg.limit) return ex.respond(429, "slow down\n");
}
