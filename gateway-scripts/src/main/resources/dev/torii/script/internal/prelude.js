// Evaluated once in every context before any plugin. It hardens the global scope, defines `torii` and `console`, and
// returns the functions the runtime calls. `h` (the exchange bridge) and `bridge` are Java objects: they stay in
// private fields and closures, so scripts reach Java only through the API below.
(function (bridge) {
  'use strict';

  // --- Hardening ---------------------------------------------------------------------------------------------------
  // No shared memory: Atomics.wait could block an event loop.
  delete globalThis.SharedArrayBuffer;
  delete globalThis.Atomics;

  // The community edition has no heap cap, so the builtins that allocate a large block in one statement (where the
  // statement budget cannot see it) are capped. Loops that allocate are stopped by the statement budget.
  const MAX_ELEMENTS = 1 << 22;
  const tooLarge = (what, n) => new RangeError(what + ': ' + n + ' (expected: at most ' + MAX_ELEMENTS + ')');
  const repeat = String.prototype.repeat;
  Object.defineProperty(String.prototype, 'repeat', {
    value: function (count) {
      const n = String(this).length * Number(count);
      if (n > MAX_ELEMENTS) throw tooLarge('String.prototype.repeat result length', n);
      return repeat.call(this, count);
    }, writable: true, configurable: true,
  });
  for (const name of ['padStart', 'padEnd']) {
    const original = String.prototype[name];
    Object.defineProperty(String.prototype, name, {
      value: function (length, fill) {
        if (Number(length) > MAX_ELEMENTS) throw tooLarge('String.prototype.' + name + ' length', length);
        return original.call(this, length, fill);
      }, writable: true, configurable: true,
    });
  }
  const capped = (ctor, name) => new Proxy(ctor, {
    construct(target, args, newTarget) {
      if (typeof args[0] === 'number' && args[0] > MAX_ELEMENTS) throw tooLarge(name + ' length', args[0]);
      return Reflect.construct(target, args, newTarget);
    },
    apply(target, self, args) {
      if (typeof args[0] === 'number' && args[0] > MAX_ELEMENTS) throw tooLarge(name + ' length', args[0]);
      return Reflect.apply(target, self, args);
    },
  });
  for (const name of ['Array', 'ArrayBuffer', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array',
    'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array']) {
    if (typeof globalThis[name] === 'function') {
      Object.defineProperty(globalThis, name, { value: capped(globalThis[name], name), writable: false, configurable: false });
    }
  }

  // --- Helpers -----------------------------------------------------------------------------------------------------
  const format = (args) => args.map((a) => {
    if (typeof a === 'string') return a;
    if (a instanceof Error) return String(a.stack || a);
    try {
      const s = JSON.stringify(a);
      return s === undefined ? String(a) : s;
    } catch (e) {
      return String(a);
    }
  }).join(' ');
  const lines = (s) => (s === null || s === '' ? [] : s.split('\n'));
  const ttlOf = (opts) => (opts == null || opts.ttl == null ? null : String(opts.ttl));
  const deepFreeze = (o) => {
    if (o !== null && typeof o === 'object') {
      Object.values(o).forEach(deepFreeze);
      Object.freeze(o);
    }
    return o;
  };

  // --- ex --------------------------------------------------------------------------------------------------------
  class Headers {
    #h; #side;
    constructor(h, side) { this.#h = h; this.#side = side; }
    get(name) { return this.#h.headerGet(this.#side, String(name)); }
    getAll(name) { return lines(this.#h.headerAll(this.#side, String(name))); }
    has(name) { return this.#h.headerHas(this.#side, String(name)); }
    names() { return lines(this.#h.headerNames(this.#side)); }
    set(name, value) { this.#h.headerSet(this.#side, String(name), String(value)); return this; }
    add(name, value) { this.#h.headerAdd(this.#side, String(name), String(value)); return this; }
    remove(name) { return this.#h.headerRemove(this.#side, String(name)); }
  }

  class Request {
    #h; #headers;
    constructor(h) { this.#h = h; }
    get method() { return this.#h.method(); }
    get uri() { return this.#h.uri(); }
    get path() { return this.#h.path(); }
    get query() { return this.#h.query(); }
    get host() { return this.#h.host(); }
    get protocol() { return this.#h.protocol(); }
    get headers() { return this.#headers ??= new Headers(this.#h, 0); }
    setPath(path) { this.#h.setPath(String(path)); }
    setQuery(query) { this.#h.setQuery(query == null ? null : String(query)); }
  }

  class Response {
    #h; #headers;
    constructor(h) { this.#h = h; }
    get status() { return this.#h.status(); }
    set status(status) { this.#h.setStatus(Number(status)); }
    get headers() { return this.#headers ??= new Headers(this.#h, 1); }
  }

  class Exchange {
    #h; #request; #response;
    constructor(h) { this.#h = h; }
    get phase() { return this.#h.phase(); }
    get request() { return this.#request ??= new Request(this.#h); }
    get response() { this.#h.checkResponse(); return this.#response ??= new Response(this.#h); }
    get client() { return { ip: this.#h.clientIp(), port: this.#h.clientPort() }; }
    get secure() { return this.#h.secure(); }
    get tls() {
      const h = this.#h;
      const version = h.tls(0);
      return version == null
        ? null
        : Object.freeze({ version, cipher: h.tls(1), sni: h.tls(2) ?? null, alpn: h.tls(3) ?? null });
    }
    get route() { return this.#h.route(); }
    get upstream() { return this.#h.upstream(); }
    get vars() {
      let v = this.#h.vars();
      if (v == null) {
        v = {};
        this.#h.setVars(v);
      }
      return v;
    }
    get log() { return JSON.parse(this.#h.logJson()); }
    respond(status, body, headers) {
      if (!Number.isInteger(status)) throw new TypeError('ex.respond status: ' + status + ' (expected: an integer 200-599)');
      return this.#h.respond(status, body == null ? '' : String(body), headers == null ? null : headers);
    }
    redirect(url, status) {
      const s = status === undefined ? 302 : status;
      if (!Number.isInteger(s)) throw new TypeError('ex.redirect status: ' + s + ' (expected: 301, 302, 303, 307 or 308)');
      return this.#h.redirect(String(url), s);
    }
    useUpstream(name) { this.#h.useUpstream(String(name)); }
    useEndpoint(hostPort) { this.#h.useEndpoint(String(hostPort)); }
    limit(key, opts) {
      if (typeof opts === 'string') return this.#h.limitPolicy(String(key), opts);
      if (opts == null || typeof opts !== 'object') throw new TypeError('ex.limit options: ' + opts + ' (expected: {rate, per, burst})');
      const rate = Number(opts.rate);
      return this.#h.limit(String(key), rate, opts.per == null ? '1s' : String(opts.per),
        opts.burst == null ? rate : Number(opts.burst));
    }
  }

  // --- conn (onConnect) --------------------------------------------------------------------------------------------
  class Connection {
    #h;
    constructor(h) { this.#h = h; }
    get phase() { return 'connect'; }
    get client() { return { ip: this.#h.clientIp(), port: this.#h.clientPort() }; }
    get local() { return { ip: this.#h.localIp(), port: this.#h.localPort() }; }
    get listener() { return this.#h.listener(); }
    get sni() { return this.#h.sni(); }
    get upstream() { return this.#h.upstream(); }
    get endpoint() { return this.#h.endpoint(); }
    useUpstream(name) { this.#h.useUpstream(String(name)); }
    useEndpoint(hostPort) { this.#h.useEndpoint(String(hostPort)); }
    reject() { return this.#h.reject(); }
    limit(key, opts) {
      if (typeof opts === 'string') return this.#h.limitPolicy(String(key), opts);
      if (opts == null || typeof opts !== 'object') throw new TypeError('conn.limit options: ' + opts + ' (expected: {rate, per, burst})');
      const rate = Number(opts.rate);
      return this.#h.limit(String(key), rate, opts.per == null ? '1s' : String(opts.per),
        opts.burst == null ? rate : Number(opts.burst));
    }
  }

  // --- torii and console -----------------------------------------------------------------------------------------
  const zones = new Map();
  const DNS_TYPES = Object.freeze(['A', 'AAAA', 'SRV', 'TXT']);
  class SharedDict {
    #z;
    constructor(z) { this.#z = z; }
    get(key) { return this.#z.get(String(key)); }
    set(key, value, opts) { this.#z.set(String(key), value, ttlOf(opts)); }
    add(key, value, opts) { return this.#z.add(String(key), value, ttlOf(opts)); }
    incr(key, delta, opts) { return this.#z.incr(String(key), delta === undefined ? 1 : Number(delta), ttlOf(opts)); }
    delete(key) { return this.#z.delete(String(key)); }
  }
  const log = (...args) => bridge.log('info', format(args));
  log.debug = (...args) => bridge.log('debug', format(args));
  log.info = log;
  log.warn = (...args) => bridge.log('warn', format(args));
  log.error = (...args) => bridge.log('error', format(args));
  Object.freeze(log);

  const torii = Object.freeze({
    log,
    now: () => bridge.now(),
    shared(zone) {
      const name = String(zone);
      let d = zones.get(name);
      if (d === undefined) {
        d = Object.freeze(new SharedDict(bridge.shared(name)));
        zones.set(name, d);
      } else {
        bridge.checkShared();
      }
      return d;
    },
    sha256: (text) => bridge.sha256(String(text)),
    hmacSha256: (key, text, encoding) => bridge.hmacSha256(String(key), String(text), encoding === undefined ? 'hex' : String(encoding)),
    base64: Object.freeze({
      encode: (text, url) => bridge.base64Encode(String(text), url === true),
      decode: (text, url) => bridge.base64Decode(String(text), url === true),
    }),
    timingSafeEqual: (a, b) => bridge.timingSafeEqual(String(a), String(b)),
    maintenance: Object.freeze({ get enabled() { return bridge.maintenanceEnabled(); } }),
    dns: Object.freeze({
      // A Promise of the records, through the gateway's DNS cache; rejected with an Error whose `code` says why.
      resolve(name, opts) {
        const type = opts == null || opts.type == null ? 'A' : String(opts.type);
        if (!DNS_TYPES.includes(type)) {
          throw new TypeError('torii.dns.resolve type: ' + type + ' (expected: A, AAAA, SRV or TXT)');
        }
        let resolve, reject;
        const p = new Promise((res, rej) => { resolve = res; reject = rej; });
        // Outside the Promise's executor, so that a call in a wrong phase throws instead of rejecting.
        bridge.dnsResolve(String(name), type,
          (json) => resolve(deepFreeze(JSON.parse(json))),
          (code, message) => {
            const e = new Error(message);
            e.code = code;
            reject(e);
          });
        return p;
      },
    }),
  });
  const console = Object.freeze({ log, info: log, debug: log.debug, warn: log.warn, error: log.error });
  Object.defineProperty(globalThis, 'torii', { value: torii, writable: false, configurable: false, enumerable: false });
  Object.defineProperty(globalThis, 'console', { value: console, writable: false, configurable: false, enumerable: false });

  // Freeze the shared intrinsics and the global object: plugins in one context then cannot change each other's
  // builtins (prototype pollution) or leave state in globals; module-level variables stay private to each plugin.
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    const v = globalThis[name];
    if ((typeof v === 'function' || (typeof v === 'object' && v !== null)) && name !== 'globalThis') {
      Object.freeze(v);
      if (typeof v === 'function' && v.prototype) Object.freeze(v.prototype);
    }
  }
  for (const p of [Object.getPrototypeOf(function* () {}), Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf([][Symbol.iterator]()), Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())),
    Object.getPrototypeOf(Int8Array), Object.getPrototypeOf(Int8Array.prototype)]) {
    Object.freeze(p);
  }
  Object.freeze(globalThis);

  return Object.freeze({
    invoke: (fn, h, cfg) => fn(new Exchange(h), cfg),
    connect: (fn, h, cfg) => fn(new Connection(h), cfg),
    config: (json) => deepFreeze(JSON.parse(json)),
    // An async hook's Promise reports how it settled to its Java call (see AsyncCall).
    settle: (p, call) => {
      Promise.resolve(p).then((v) => call.fulfilled(v),
        (e) => call.rejected(e instanceof Error ? String(e.stack || e) : format([e])));
    },
  });
})
