/**
 * The DNS cache: an asynchronous, caching stub resolver built for cluster DNS congestion ({@link dev.torii.dns.DnsCache}),
 * its failures ({@link dev.torii.dns.DnsException}), SRV targets ({@link dev.torii.dns.SrvTarget}) and counters
 * ({@link dev.torii.dns.DnsCacheStats}). See {@code docs/dns.md}.
 */
package dev.torii.dns;
