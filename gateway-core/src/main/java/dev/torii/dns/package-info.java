/**
 * The DNS cache: an asynchronous, caching stub resolver built for cluster DNS congestion ({@link dev.torii.dns.DnsCache}),
 * its failures ({@link dev.torii.dns.DnsException}), SRV targets ({@link dev.torii.dns.SrvTarget}) and counters
 * ({@link dev.torii.dns.DnsCacheStats}); and its server mode, a node-local DNS cache for other processes
 * ({@link dev.torii.dns.DnsServer}, with {@link dev.torii.dns.DnsRateLimit} and {@link dev.torii.dns.DnsServerStats}).
 * See {@code docs/dns.md}.
 */
package dev.torii.dns;
