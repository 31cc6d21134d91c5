// Type definitions for Torii plugin scripts (plugin.js). Reference them from an editor with
//   /// <reference path="torii.d.ts" />
// Every member lists the phases where it may be called; a call outside them throws an Error naming the function,
// the allowed phases and the current one. "init" is the evaluation of the module itself (top-level code).

/** A phase of an exchange, as `ex.phase` reports it. */
type Phase = "request" | "upstream" | "response" | "log";

/** A duration: "250ms", "1s", "5m", "1h", "1d", or a number of seconds. */
type Duration = string | number;

/** Header fields; names are case-insensitive. */
interface Headers {
  /** The first value, or null. Phases: request: any; response headers: response, log. */
  get(name: string): string | null;
  /** Every value in order (empty when absent). Phases: as get. */
  getAll(name: string): string[];
  /** Whether present. Phases: as get. */
  has(name: string): boolean;
  /** The names present, lower case. Phases: as get. */
  names(): string[];
  /** Replaces every value. Phases: request headers: request, upstream; response headers: response. */
  set(name: string, value: string | number | boolean): Headers;
  /** Adds a value after the existing ones. Phases: as set. */
  add(name: string, value: string | number | boolean): Headers;
  /** Removes every value; returns whether any was present. Phases: as set. */
  remove(name: string): boolean;
}

/** The request head as it will be sent upstream. Readable in every phase. */
interface Request {
  /** e.g. "GET". */
  readonly method: string;
  /** The target as received or last changed, e.g. "/a/b?x=1". */
  readonly uri: string;
  /** The path part of uri, without the query. */
  readonly path: string;
  /** The raw query after "?", or null. */
  readonly query: string | null;
  /** The Host (or :authority) without the port, or null. */
  readonly host: string | null;
  /** "HTTP/1.0", "HTTP/1.1" or "HTTP/2". */
  readonly protocol: string;
  /** Request headers; changes are sent upstream. */
  readonly headers: Headers;
  /** Replaces the path, keeping the query. Phases: request, upstream. */
  setPath(path: string): void;
  /** Replaces the query; null removes it. Phases: request, upstream. */
  setQuery(query: string | null): void;
}

/** The response head: the upstream's, or a local one (an error, a hook's answer). Phases: response, log. */
interface Response {
  /** The status; assigning changes it (200-599). Read: response, log. Assign: response. */
  status: number;
  /** Response headers; changes are sent to the client. */
  readonly headers: Headers;
}

/** The record of the finished exchange. Phases: log. */
interface ExchangeLog {
  readonly status: number;
  /** A ProxyError name such as "HOOK_FAILED", or null when the exchange completed. */
  readonly error: string | null;
  readonly method: string;
  readonly uri: string;
  readonly host: string | null;
  readonly route: string | null;
  readonly upstream: string | null;
  /** "ip:port" of the endpoint used, or null. */
  readonly upstreamAddress: string | null;
  readonly requestBodyBytes: number;
  readonly responseBodyBytes: number;
  /** From request head decoded to last byte sent, in milliseconds. */
  readonly durationMs: number | null;
  readonly upstreamHeadersMs: number | null;
  readonly attempts: number;
  readonly startEpochMillis: number;
}

/** What ex.respond and ex.redirect return: return it from the phase function to answer. Opaque. */
interface Reply {
  readonly __toriiReply: unique symbol;
}

/** Options of ex.limit: a token bucket of `burst` tokens refilled with `rate` tokens every `per`. */
interface LimitOptions {
  /** Tokens added per period; an integer >= 1. */
  rate: number;
  /** The period (default "1s"). */
  per?: Duration;
  /** The bucket's capacity: requests allowed at once (default: rate). */
  burst?: number;
}

/** One exchange as a phase function sees it. Valid only during the call it was passed to. */
interface Exchange {
  /** The phase running now. Phases: all. */
  readonly phase: Phase;
  /** Phases: all (changes: request, upstream). */
  readonly request: Request;
  /** Phases: response, log. */
  readonly response: Response;
  /** The TCP peer (not X-Forwarded-For). Phases: all. */
  readonly client: { readonly ip: string; readonly port: number };
  /** Whether the client connection is TLS. Phases: all. */
  readonly secure: boolean;
  /**
   * The client connection's TLS session (HTTPS listeners), or null in clear text: version ("TLSv1.3"), cipher
   * suite, the SNI name the client sent (or null) and the ALPN protocol ("h2", "http/1.1", or null). Phases: all.
   */
  readonly tls: {
    readonly version: string;
    readonly cipher: string;
    readonly sni: string | null;
    readonly alpn: string | null;
  } | null;
  /** The matched route's name; null in request and when none matched. Phases: all. */
  readonly route: string | null;
  /** The upstream the request goes to; null before routing. Phases: all. */
  readonly upstream: string | null;
  /** Variables of this exchange, shared by every phase and plugin that sees it. Phases: all. */
  readonly vars: Record<string, any>;
  /** The finished exchange's record. Phases: log. */
  readonly log: ExchangeLog;
  /**
   * An answer: status 200-599, a text body (text/plain unless headers say otherwise) and extra headers. Return it.
   * In response it replaces the upstream's response. Phases: request, upstream, response.
   */
  respond(status: number, body?: string, headers?: Record<string, string | number>): Reply;
  /** A redirect to url with status 301, 302 (default), 303, 307 or 308. Return it. Phases: request, upstream, response. */
  redirect(url: string, status?: 301 | 302 | 303 | 307 | 308): Reply;
  /** Sends the request to another upstream of the routing table. Phases: upstream. */
  useUpstream(name: string): void;
  /** Sends the request to "host:port", bypassing load balancing; a host name is resolved without blocking. Phases: upstream. */
  useEndpoint(hostPort: string): void;
  /**
   * Takes a token from the bucket of `key` (per plugin, shared by every event loop); false when it is empty.
   * Phases: request, upstream.
   */
  limit(key: string, options: LimitOptions): boolean;
  /**
   * Takes a token of `key` from the gateway's named policy `policy` (top-level `rateLimits:` in torii.yaml; its
   * counters and metrics count it); false when the request is over the limit (a shadow policy always answers true).
   * Only local policies: a `store: redis` policy throws (scripts decide synchronously; attach it to a route).
   * Phases: request, upstream.
   */
  limit(key: string, policy: string): boolean;
}

/** What conn.reject() returns; return it from onConnect. */
interface Rejection {}

/** A connection accepted by a TCP listener, as onConnect sees it (phase "connect"). Valid only during the call. */
interface Connection {
  readonly phase: "connect";
  /** The TCP peer. */
  readonly client: { readonly ip: string; readonly port: number };
  /** The address the client connected to. */
  readonly local: { readonly ip: string; readonly port: number };
  /** The TCP listener's name. */
  readonly listener: string;
  /**
   * The server name of the client's TLS ClientHello (lower case), read without terminating TLS on a listener with
   * SNI routing (`sni:`); null when the listener has none, the client sent no name or did not speak TLS.
   */
  readonly sni: string | null;
  /** The upstream the connection will go to: the listener's, unless a hook chose another. */
  readonly upstream: string;
  /** The endpoint chosen with useEndpoint ("host:port"), or null: load balancing decides. */
  readonly endpoint: string | null;
  /** Sends the connection to another upstream of the routing table (load balanced). */
  useUpstream(name: string): void;
  /** Sends the connection to "host:port", bypassing load balancing. */
  useEndpoint(hostPort: string): void;
  /** Closes the connection without contacting a backend. Return it. */
  reject(): Rejection;
  /** As ex.limit: takes a token from the bucket of `key`; false when it is empty. */
  limit(key: string, options: LimitOptions): boolean;
  /** As ex.limit(key, policy): a token of `key` from the gateway's named (local) policy `policy`. */
  limit(key: string, policy: string): boolean;
}

/** Options of shared-dictionary writes. */
interface TtlOptions {
  /** How long the entry lives (default: until evicted). */
  ttl?: Duration;
}

/** A dictionary shared by every event loop and plugin; bounded (least recently used entries are evicted). */
interface SharedDict {
  /** The value, or null when absent or expired. Phases: all but init. */
  get(key: string): string | number | boolean | null;
  /** Stores a value (strings, numbers, booleans; JSON.stringify objects). Phases: all but init. */
  set(key: string, value: string | number | boolean, options?: TtlOptions): void;
  /** Stores only when absent; returns whether it did. Phases: all but init. */
  add(key: string, value: string | number | boolean, options?: TtlOptions): boolean;
  /** Adds delta (default 1) and returns the new value; a new key starts at 0 and gets the ttl. Phases: all but init. */
  incr(key: string, delta?: number, options?: TtlOptions): number;
  /** Removes the key; returns whether it was present. Phases: all but init. */
  delete(key: string): boolean;
}

/** Logs to the gateway log under torii.plugin.NAME; arguments are joined with spaces, objects as JSON. Phases: all, init. */
interface Log {
  (...args: any[]): void;
  debug(...args: any[]): void;
  info(...args: any[]): void;
  warn(...args: any[]): void;
  error(...args: any[]): void;
}

declare const torii: {
  /** Phases: all, init. */
  readonly log: Log;
  /** Milliseconds since the epoch, from the gateway's clock. Phases: all, init. */
  now(): number;
  /** The shared dictionary `zone` (1-64 of [A-Za-z0-9_.-]). Phases: connect, request, upstream, response, log. */
  shared(zone: string): SharedDict;
  /** SHA-256 of the UTF-8 text, lower-case hex. Phases: all, init. */
  sha256(text: string): string;
  /** HMAC-SHA256 of the UTF-8 text with the UTF-8 key. Phases: all, init. */
  hmacSha256(key: string, text: string, encoding?: "hex" | "base64" | "base64url"): string;
  readonly base64: {
    /** Base64 of the UTF-8 text; url: the URL alphabet without padding. Phases: all, init. */
    encode(text: string, url?: boolean): string;
    /** The UTF-8 text of base64 (url: the URL alphabet). Phases: all, init. */
    decode(text: string, url?: boolean): string;
  };
  /** Compares in time independent of where the strings differ (signatures, tokens). Phases: all, init. */
  timingSafeEqual(a: string, b: string): boolean;
  readonly maintenance: {
    /** Whether the gateway's maintenance switch is on (flag file, admin API, Java API). Phases: all, init. */
    readonly enabled: boolean;
  };
  readonly dns: ToriiDns;
};

// --- torii.dns (DNS helper's block) -----------------------------------------------------------------------------

/** One SRV target (RFC 2782): lower priority first; weight shares load among equal priorities. */
interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** The target host name, without its final dot. */
  readonly target: string;
}

/** Why a lookup failed: the DnsException reason, or NO_CACHE when the gateway has no DNS cache. */
type DnsErrorCode =
  | "NAME_NOT_FOUND" | "NO_DATA" | "TIMEOUT" | "UPSTREAM_FAILED" | "OVERLOADED" | "INVALID_NAME" | "CLOSED"
  | "NO_CACHE";

/** The Error a failed torii.dns.resolve rejects with. */
interface DnsError extends Error {
  readonly code: DnsErrorCode;
}

interface ToriiDns {
  /**
   * Looks a name up through the gateway's DNS cache (search list, stale answers and failure cache included) and
   * resolves with its records (frozen): IP strings for A and AAAA (default A), SrvRecord[] for SRV (ordered by
   * priority, then weight), one string per TXT record (its strings joined). Rejects with a DnsError. `await` it in an
   * `async` phase function; a cached name resolves without leaving the event loop's stack.
   * Phases: connect, request, upstream (elsewhere it throws).
   */
  resolve(name: string, opts?: { type?: "A" | "AAAA" }): Promise<string[]>;
  resolve(name: string, opts: { type: "SRV" }): Promise<SrvRecord[]>;
  resolve(name: string, opts: { type: "TXT" }): Promise<string[]>;
}

/** Same as torii.log. Phases: all, init. */
declare const console: {
  log(...args: any[]): void;
  info(...args: any[]): void;
  debug(...args: any[]): void;
  warn(...args: any[]): void;
  error(...args: any[]): void;
};

/** The functions a plugin.js may export; cfg is the plugin's config (frozen, defaults applied). */
declare function onConnect(conn: Connection, cfg: any): Rejection | void | Promise<Rejection | void>;
declare function onRequest(ex: Exchange, cfg: any): Reply | void | Promise<Reply | void>;
declare function onUpstream(ex: Exchange, cfg: any): Reply | void | Promise<Reply | void>;
declare function onResponse(ex: Exchange, cfg: any): Reply | void;
declare function onLog(ex: Exchange, cfg: any): void;
