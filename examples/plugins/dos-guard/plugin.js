// DoS guard: a token bucket per client IP; past the burst the client gets 429 until the bucket refills.
// Refusals are counted per IP in the shared dictionary "dos-guard" (visible to every event loop and to Java).
/**
 * @param {Exchange} ex
 * @param {any} cfg
 * @returns {Reply | void}
 */
export function onRequest(ex, cfg) {
  const ip = ex.client.ip;
  if (cfg.allow.includes(ip)) return;
  if (cfg.blockHeader && ex.request.headers.get(cfg.blockHeader) === "1") {
    return ex.respond(403, "blocked\n");
  }
  if (!ex.limit(ip, { rate: cfg.rate, per: cfg.per, burst: cfg.burst })) {
    torii.shared("dos-guard").incr("refused:" + ip, 1, { ttl: "10m" });
    return ex.respond(429, "slow down\n", { "retry-after": "1" });
  }
  ex.request.headers.set("x-client-ip", ip);
}

/**
 * @param {Exchange} ex
 * @param {any} cfg
 * @returns {Reply | void}
 */
export function onResponse(ex, cfg) {
  if (cfg.servedBy) ex.response.headers.set("x-served-by", cfg.servedBy);
}
