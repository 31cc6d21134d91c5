package dev.torii;

import dev.torii.testing.LlhttpCorpus;
import dev.torii.testing.LlhttpCorpus.Case;
import dev.torii.testing.LlhttpCorpus.ChunkComplete;
import dev.torii.testing.LlhttpCorpus.ChunkHeader;
import dev.torii.testing.LlhttpCorpus.Event;
import dev.torii.testing.LlhttpCorpus.HeadersComplete;
import dev.torii.testing.LlhttpCorpus.MessageBegin;
import dev.torii.testing.LlhttpCorpus.MessageComplete;
import dev.torii.testing.LlhttpCorpus.Span;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a strict HTTP/1.1 reverse proxy must do with one llhttp request case: which messages reach the backend and how
 * they look there, what the client gets, and whether the connection ends. Derived from the case's log, never from a
 * list of cases known to pass; see {@link #of(Case, Map)} for the rules and {@link #exclusion(Case)} for the groups
 * left out.
 *
 * @param id the case id ({@code file:line heading})
 * @param send the bytes to write: the case's input, with a Host line added to accepted HTTP/1.1 messages that lack one,
 *     a completion for a last message that the input leaves unfinished, and a probe request when the connection should
 *     stay open
 * @param forwarded the messages that must reach the backend, in order (the probe included)
 * @param end what happens after their responses
 * @param rejectStatuses the statuses allowed for the rejection when {@code end} is {@link End#REJECTED}
 * @param failureInBody whether the rejected message fails in its body, after a head that a streaming proxy may already
 *     have sent upstream (then its head may reach the backend, its completion never)
 * @param alternative when the RFCs let a proxy refuse what llhttp accepts, the statuses it may refuse it with (and
 *     why); empty otherwise
 * @param why a sentence for failure messages
 */
record FramingExpectation(
        String id,
        byte[] send,
        List<Message> forwarded,
        End end,
        Set<Integer> rejectStatuses,
        boolean failureInBody,
        Alternative alternative,
        String why) {

    /** The Host added to HTTP/1.1 messages without one (RFC 9112 section 3.2 makes a server answer 400 to those). */
    static final String INJECTED_HOST = "llhttp.test";
    /** A request sent after an accepted case: if it comes back, the gateway framed the case where llhttp did. */
    static final String PROBE = "GET /llhttp-probe HTTP/1.1\r\nHost: probe.test\r\n\r\n";

    /** What follows the responses to the forwarded messages. */
    enum End {
        /** The connection stays open: the probe was answered. */
        KEEP_ALIVE,
        /** The last message ends the connection ({@code Connection: close} or HTTP/1.0): the gateway closes. */
        CLOSE,
        /** Bytes after a message that closes the connection are ignored, not answered: the gateway just closes. */
        IGNORE_AFTER_CLOSE,
        /** The input ends inside a message llhttp had not finished: nothing more is answered (the test stops). */
        PENDING,
        /** The next message is malformed: one response with a status from {@code rejectStatuses}, then close. */
        REJECTED
    }

    /**
     * A message as the backend must see it.
     *
     * @param method the method
     * @param uris acceptable request targets (an absolute-form target may also arrive in origin-form, a fragment may
     *     be dropped)
     * @param host the Host the backend must get, or {@code null} to not check (HTTP/1.0 without Host)
     * @param headers end-to-end header fields from the log in order, values without surrounding whitespace; hop-by-hop
     *     and framing fields are left out since the proxy rewrites them
     * @param body body bytes without chunked framing
     * @param trailers trailer fields of a chunked body
     */
    record Message(
            String method,
            List<String> uris,
            String host,
            List<Map.Entry<String, String>> headers,
            byte[] body,
            List<Map.Entry<String, String>> trailers) {

        boolean isHead() {
            return method.equals("HEAD");
        }
    }

    /** A refusal the RFCs allow instead of what llhttp accepts. */
    record Alternative(Set<Integer> statuses, String reason) {
        static final Alternative NONE = new Alternative(Set.of(), "");
    }

    /**
     * Lenient cases (llhttp accepts them only with a lenient flag, so a strict proxy must reject them) whose bytes no
     * strict case shares: how many of their messages come before the one that needs leniency, and so must be
     * forwarded, and how the rest ends. A lenient case with a strict twin (the same bytes) takes the twin's
     * expectation instead. The derivation fails on a lenient case in neither group, so each one is decided here.
     */
    static final Map<String, LenientRule> LENIENT_WITHOUT_STRICT_TWIN = Map.ofEntries(
            // obs-fold (a header line starting with SP/HTAB) is rejected by strict llhttp.
            lenient("sample.md", "Line folding in header value with CRLF", 0, End.REJECTED, false, 400),
            lenient("sample.md", "X-SSL-Nonsense", 0, End.REJECTED, false, 400),
            lenient("connection.md", "Multiple tokens with folding", 0, End.REJECTED, false, 400),
            lenient("connection.md", "Multiple tokens with folding, LWS, and CRLF", 0, End.REJECTED, false, 400),
            // Bare LF after the request line.
            lenient("invalid.md", "Only LFs present (lenient)", 0, End.REJECTED, false, 400),
            // The first request is HTTP/1.0 without keep-alive: answered, then the rest is ignored.
            lenient(
                    "connection.md",
                    "Resetting flags when keep-alive is off (1.0, lenient)",
                    1,
                    End.IGNORE_AFTER_CLOSE,
                    false),
            // A form feed (a control character) in a header value.
            lenient("lenient-headers.md", "Header value (lenient)", 0, End.REJECTED, false, 400),
            lenient("lenient-headers.md", "Second request header value (lenient)", 1, End.REJECTED, false, 400),
            // HTTP/5.6: 400, or 505 HTTP Version Not Supported.
            lenient("lenient-version.md", "Invalid HTTP version (lenient)", 0, End.REJECTED, false, 400, 505),
            // Transfer-Encoding together with Content-Length (RFC 9112 section 6.1: reject, then close).
            lenient(
                    "transfer-encoding.md",
                    "POST with `Transfer-Encoding` and `Content-Length` (lenient)",
                    0,
                    End.REJECTED,
                    false,
                    400,
                    501),
            // "6\r\r;ABCD": a chunk size line ended by a bare CR: fails in the body.
            lenient(
                    "transfer-encoding.md",
                    "Chunk header not terminated by CRLF (lenient)",
                    0,
                    End.REJECTED,
                    true,
                    400));

    record LenientRule(int forwardedBefore, End end, boolean failureInBody, Set<Integer> statuses) {}

    private static Map.Entry<String, LenientRule> lenient(
            String file, String heading, int forwarded, End end, boolean inBody, Integer... statuses) {
        return Map.entry(file + "|" + heading, new LenientRule(forwarded, end, inBody, Set.of(statuses)));
    }

    /**
     * Why llhttp's verdict on {@code c} is llhttp's own choice rather than HTTP/1.1 framing a proxy must share, or
     * {@code null} when the case runs. The groups:
     *
     * <ul>
     *   <li>{@code pausing.md}: where llhttp stops when a callback calls {@code llhttp_pause()}, an API property.
     *   <li>{@code request-finish} cases ({@code finish.md}): what {@code llhttp_finish()} says at end of input.
     *   <li>{@code skipBody} cases: an {@code on_headers_complete} callback returning 1 to skip the body, a callback
     *       protocol of llhttp's.
     *   <li>CONNECT and Upgrade requests that strict llhttp accepts (it pauses with code 22 and hands the connection
     *       over): tunnelling is not message framing, and what follows depends on the upstream answering 101 or not.
     *   <li>{@code PRI * HTTP/1.1} (code 23): the HTTP/2 prior-knowledge preface, which belongs to h2c.
     *   <li>Methods refused only because they are not in llhttp's method list ({@code MKCOLA}, {@code ANNOUNCE} over
     *       HTTP): RFC 9110 section 9.1 lets any token be a method, and a proxy forwards methods it does not know.
     *   <li>RTSP/ICE requests that llhttp accepts (it also parses those protocols): not HTTP, so an HTTP gateway has
     *       nothing to forward. The cases where llhttp rejects them run (a gateway must reject them too).
     *   <li>HTTP/0.9 ({@code GET /} with no version): a simple-request has no headers and gets no status line.
     *   <li>An asterisk-form target with a method other than OPTIONS ({@code M-SEARCH *}, SSDP): RFC 9112 section 3.2.4
     *       defines {@code *} for OPTIONS only, and there is no path to route.
     * </ul>
     */
    private static boolean emptyChunkExtension(Case c) {
        String input = new String(c.input(), StandardCharsets.ISO_8859_1);
        return input.matches("(?s).*\\r\\n[0-9a-fA-F]+;\\r\\n.*");
    }

    static String exclusion(Case c) {
        if (c.file().equals("pausing.md") || c.meta().containsKey("pause")) {
            return "llhttp_pause() API: where the parser stops when a callback pauses it";
        }
        if (c.type().equals("request-finish")) {
            return "llhttp_finish() API: whether ending the input there is safe";
        }
        if ("true".equals(c.meta().get("skipBody"))) {
            return "llhttp callback protocol: on_headers_complete returning 1 skips the body";
        }
        LlhttpCorpus.Error error = c.error();
        if (!c.lenient() && error != null && error.code() == 22) {
            return "CONNECT/Upgrade: llhttp pauses and hands the connection over (tunnelling, not framing)";
        }
        if (error != null && error.code() == 23) {
            return "PRI * HTTP/1.1: the HTTP/2 prior-knowledge preface (h2c)";
        }
        if (error != null && error.reason().equals("Invalid character in chunk extensions") && emptyChunkExtension(c)) {
            // Torii, like nginx and HAProxy, ignores chunk extensions and writes fresh chunk-size lines upstream, so
            // an extension cannot change the framing the upstream sees; Http1FramingTest checks what arrives.
            return "an empty chunk extension (`2;`): ignored and dropped, the chunks are re-framed upstream";
        }
        if (error != null && (error.reason().startsWith("Invalid method for HTTP") || error.code() == 6)) {
            String method = firstWord(c.input());
            if (method.chars().allMatch(FramingExpectation::isTchar) && !method.isEmpty()) {
                return "llhttp's method list: '" + method + "' is a valid token method (RFC 9110 section 9.1)";
            }
        }
        for (Span s : spans(c, "protocol")) {
            String protocol = new String(c.bytes(s), StandardCharsets.UTF_8);
            if (!protocol.equals("HTTP") && error == null) {
                return "not HTTP: llhttp also accepts " + protocol + " requests";
            }
        }
        for (Event e : c.events()) {
            if (e instanceof HeadersComplete h && h.major() == 0 && h.minor() == 9) {
                return "HTTP/0.9 simple-request";
            }
        }
        List<Span> urls = spans(c, "url");
        List<Span> methods = spans(c, "method");
        for (int i = 0; i < urls.size() && i < methods.size(); i++) {
            if (text(c, urls.get(i)).equals("*") && !text(c, methods.get(i)).equals("OPTIONS")) {
                return "asterisk-form target with " + text(c, methods.get(i))
                        + " (RFC 9112 section 3.2.4: OPTIONS only)";
            }
        }
        return null;
    }

    /**
     * Derives the expectation of a case that runs ({@link #exclusion(Case)} is {@code null}).
     *
     * <ul>
     *   <li>No error in the log: every message llhttp completed must reach the backend intact; then the probe must be
     *       answered, or the gateway closes if the last message asked for that.
     *   <li>An error: the messages llhttp completed before it must reach the backend, then the client gets 400 (505 for
     *       a bad version, 501 allowed for an unknown transfer coding, 413 allowed for a Content-Length overflow) and
     *       the connection closes; the failing message never reaches the backend. Error 5 (data after a message that
     *       closes the connection) is not a rejection: the gateway answers, then closes, ignoring the rest.
     *   <li>A lenient case: what its strict twin expects; else, if llhttp rejects it even leniently, what its log
     *       says; else {@link #LENIENT_WITHOUT_STRICT_TWIN}.
     *   <li>llhttp reports an error as soon as the bytes so far cannot start a valid message, so what follows does
     *       not change its verdict. A parser that decides at the end of the head may wait for more, so when the input
     *       of a rejected case ends inside a head, CRLF CRLF is appended to let it decide without a timeout.
     * </ul>
     *
     * @param strictByInput strict, non-excluded cases by their input bytes, to find a lenient case's twin
     */
    static FramingExpectation of(Case c, Map<String, Case> strictByInput) {
        if (c.lenient()) {
            Case twin = strictByInput.get(key(c.input()));
            if (twin != null) {
                FramingExpectation t = of(twin, Map.of());
                return new FramingExpectation(
                        c.id(),
                        t.send,
                        t.forwarded,
                        t.end,
                        t.rejectStatuses,
                        t.failureInBody,
                        t.alternative,
                        "lenient-only: must be handled like its strict twin " + twin.id() + " (" + t.why + ")");
            }
            LlhttpCorpus.Error error = c.error();
            if (error != null && error.code() != 22 && error.code() != 23) {
                return strict(c); // llhttp rejects it even with the lenient flag
            }
            LenientRule rule = LENIENT_WITHOUT_STRICT_TWIN.get(c.file() + "|" + c.heading());
            if (rule == null) {
                throw new IllegalStateException(c.id() + ": a lenient case with no strict twin and no entry in"
                        + " LENIENT_WITHOUT_STRICT_TWIN (decide how a strict proxy must treat it)");
            }
            List<Parsed> messages = parse(c);
            return build(
                    c,
                    messages.subList(0, rule.forwardedBefore()),
                    rule.end(),
                    rule.statuses(),
                    rule.failureInBody(),
                    "lenient-only, no strict twin: " + rule.forwardedBefore() + " message(s) before the one that"
                            + " needs leniency, then " + rule.end());
        }
        return strict(c);
    }

    private static FramingExpectation strict(Case c) {
        List<Parsed> messages = parse(c);
        LlhttpCorpus.Error error = c.error();
        if (error == null) {
            List<Parsed> complete = messages.stream()
                    .filter(m -> m.complete || m.completion != null)
                    .toList();
            Parsed last = complete.isEmpty() ? null : complete.getLast();
            End end;
            if (complete.size() < messages.size() || last == null) {
                end = End.PENDING;
            } else if (last.closes()) {
                end = End.CLOSE;
            } else {
                end = End.KEEP_ALIVE;
            }
            return build(c, complete, end, Set.of(), false, "llhttp accepts it");
        }
        List<Parsed> before = messages.stream().filter(m -> m.complete).toList();
        if (error.code() == 5) {
            return build(c, before, End.IGNORE_AFTER_CLOSE, Set.of(), false, "llhttp: " + error.reason());
        }
        Set<Integer> statuses = new TreeSet<>(Set.of(400));
        String reason = error.reason();
        if (reason.contains("HTTP version")) {
            statuses.add(505);
        }
        if (reason.contains("Transfer-Encoding")) {
            statuses.add(501);
        }
        if (reason.contains("overflow")) {
            statuses.add(413);
        }
        Parsed failing = messages.stream().filter(m -> !m.complete).findFirst().orElse(null);
        boolean inBody = failing != null && failing.headersComplete && error.offset() > failing.headersEnd;
        return build(
                c, before, End.REJECTED, statuses, inBody, "llhttp: error at offset " + error.offset() + ": " + reason);
    }

    private static FramingExpectation build(
            Case c, List<Parsed> forwardedMessages, End end, Set<Integer> statuses, boolean inBody, String why) {
        byte[] in = c.input();
        var send = new ByteArrayOutputStream();
        int pos = 0;
        var forwarded = new ArrayList<Message>();
        Alternative alternative = Alternative.NONE;
        for (Parsed m : forwardedMessages) {
            String host = m.header("host");
            if (host == null && m.minor >= 1 && m.major == 1) {
                host = authority(m.url);
                if (host == null) {
                    host = INJECTED_HOST;
                }
                int lineEnd = indexOf(in, "\r\n".getBytes(StandardCharsets.US_ASCII), m.versionEnd) + 2;
                send.write(in, pos, lineEnd - pos);
                send.writeBytes(("Host: " + host + "\r\n").getBytes(StandardCharsets.US_ASCII));
                pos = lineEnd;
            } else if (authority(m.url) != null) {
                host = authority(m.url);
            }
            var body = new ByteArrayOutputStream();
            m.body.forEach(body::writeBytes);
            if (m.completion != null) {
                body.writeBytes(m.completionBody);
            }
            forwarded.add(
                    new Message(m.method, uris(m.url), host, endToEnd(m.headers), body.toByteArray(), m.trailers));
            if (forwardedMessages.size() == 1 && end != End.REJECTED) {
                alternative = alternative(m);
            }
        }
        send.write(in, pos, in.length - pos);
        if (!forwardedMessages.isEmpty() && forwardedMessages.getLast().completion != null) {
            send.writeBytes(forwardedMessages.getLast().completion);
        }
        if (end == End.KEEP_ALIVE) {
            send.writeBytes(PROBE.getBytes(StandardCharsets.US_ASCII));
            forwarded.add(
                    new Message("GET", List.of("/llhttp-probe"), "probe.test", List.of(), new byte[0], List.of()));
        }
        if (end == End.REJECTED && !inBody) {
            send.writeBytes("\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        return new FramingExpectation(
                c.id(),
                send.toByteArray(),
                List.copyOf(forwarded),
                end,
                Set.copyOf(statuses),
                inBody,
                alternative,
                why);
    }

    /** The latitude RFC 9110/9112/3986 give a proxy to refuse a message llhttp accepts. */
    private static Alternative alternative(Parsed m) {
        var reasons = new ArrayList<String>();
        var statuses = new TreeSet<Integer>();
        if (m.url.indexOf('#') >= 0) {
            reasons.add("a fragment in the request target (RFC 9112 section 3.2 has none)");
            statuses.add(400);
        }
        if (m.url.chars().anyMatch(ch -> ch == '"' || ch == '\\' || ch == '|' || ch == '{' || ch == '}')) {
            reasons.add("characters RFC 3986 does not allow in a URI");
            statuses.add(400);
        }
        String a = m.url.startsWith("http://") ? m.url.substring(7) : null;
        if (a != null && a.substring(0, indexOfAny(a, "/?#")).contains("@")) {
            reasons.add("userinfo in the target (RFC 9110 section 4.2.4: treat as an error)");
            statuses.add(400);
        }
        String te = m.header("transfer-encoding");
        if (te != null && !te.strip().equalsIgnoreCase("chunked")) {
            reasons.add("a transfer coding other than chunked (RFC 9112 section 6.1: 501 if not understood)");
            statuses.add(501);
            statuses.add(400);
        }
        return reasons.isEmpty() ? Alternative.NONE : new Alternative(Set.copyOf(statuses), String.join("; ", reasons));
    }

    private static List<String> uris(String url) {
        var uris = new ArrayList<String>();
        uris.add(url);
        String withoutFragment = url.indexOf('#') >= 0 ? url.substring(0, url.indexOf('#')) : url;
        if (url.startsWith("http://")) {
            String rest = url.substring(7);
            int slash = indexOfAny(rest, "/?#");
            String origin = rest.substring(slash);
            if (origin.isEmpty() || origin.charAt(0) != '/') {
                origin = "/" + origin;
            }
            uris.add(origin);
            if (origin.indexOf('#') >= 0) {
                uris.add(origin.substring(0, origin.indexOf('#')));
            }
        } else if (!withoutFragment.equals(url)) {
            uris.add(withoutFragment);
        }
        return List.copyOf(uris);
    }

    /** The host[:port] of an absolute-form target, without userinfo, or {@code null}. */
    private static String authority(String url) {
        if (!url.startsWith("http://")) {
            return null;
        }
        String rest = url.substring(7);
        String authority = rest.substring(0, indexOfAny(rest, "/?#"));
        return authority.substring(authority.lastIndexOf('@') + 1);
    }

    private static int indexOfAny(String s, String chars) {
        for (int i = 0; i < s.length(); i++) {
            if (chars.indexOf(s.charAt(i)) >= 0) {
                return i;
            }
        }
        return s.length();
    }

    /** Hop-by-hop fields (RFC 9110 section 7.6.1) and framing fields, which a proxy replaces. */
    private static final Set<String> NOT_END_TO_END = Set.of(
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "transfer-encoding",
            "upgrade",
            "content-length",
            "host");

    private static List<Map.Entry<String, String>> endToEnd(List<Map.Entry<String, String>> headers) {
        var hop = new java.util.HashSet<>(NOT_END_TO_END);
        for (var h : headers) {
            if (h.getKey().equalsIgnoreCase("connection")) {
                for (String token : h.getValue().split(",")) {
                    hop.add(token.strip().toLowerCase(Locale.ROOT));
                }
            }
        }
        return headers.stream()
                .filter(h -> !hop.contains(h.getKey().toLowerCase(Locale.ROOT)))
                .toList();
    }

    /** One message as llhttp's log describes it. */
    private static final class Parsed {
        String method = "";
        String url = "";
        int versionEnd;
        int major = 1;
        int minor = 1;
        int flags;
        long contentLength;
        boolean headersComplete;
        int headersEnd;
        boolean complete;
        final List<Map.Entry<String, String>> headers = new ArrayList<>();
        final List<Map.Entry<String, String>> trailers = new ArrayList<>();
        final List<byte[]> body = new ArrayList<>();
        long bodyReceived;
        boolean inTrailers;
        Event lastEvent;
        byte[] completion;
        byte[] completionBody = new byte[0];

        String header(String name) {
            return headers.stream()
                    .filter(h -> h.getKey().equalsIgnoreCase(name))
                    .map(Map.Entry::getValue)
                    .findFirst()
                    .orElse(null);
        }

        /** Connection: close, or HTTP/1.0 without keep-alive (llhttp's F_CONNECTION_CLOSE / KEEP_ALIVE bits). */
        boolean closes() {
            return (flags & 0x2) != 0 || (major == 1 && minor == 0 && (flags & 0x1) == 0);
        }
    }

    private static List<Parsed> parse(Case c) {
        var messages = new ArrayList<Parsed>();
        Parsed m = null;
        String field = null;
        StringBuilder value = null;
        List<Map.Entry<String, String>> target = null;
        for (Event e : c.events()) {
            if (e instanceof MessageBegin) {
                m = new Parsed();
                messages.add(m);
                field = null;
                continue;
            }
            if (m == null || e instanceof LlhttpCorpus.Error) {
                continue;
            }
            if (e instanceof Span s) {
                String t = new String(c.bytes(s), StandardCharsets.ISO_8859_1);
                switch (s.kind()) {
                    case "method" -> m.method += t;
                    case "url" -> m.url += new String(c.bytes(s), StandardCharsets.UTF_8);
                    case "header_field" -> {
                        flush(target, field, value);
                        field = t;
                        value = new StringBuilder();
                        target = m.inTrailers ? m.trailers : m.headers;
                    }
                    case "header_value" -> value.append(t);
                    case "body" -> {
                        m.body.add(c.bytes(s));
                        m.bodyReceived += s.length();
                    }
                    default -> {
                        // protocol, version, chunk extensions: not compared
                    }
                }
            } else if (e instanceof LlhttpCorpus.Other o && o.text().equals("version complete")) {
                m.versionEnd = o.offset();
            } else if (e instanceof HeadersComplete h) {
                flush(target, field, value);
                field = null;
                m.headersComplete = true;
                m.headersEnd = h.offset();
                m.major = h.major();
                m.minor = h.minor();
                m.flags = h.flags();
                m.contentLength = h.contentLength();
            } else if (e instanceof ChunkHeader ch && ch.length() == 0) {
                m.inTrailers = true;
            } else if (e instanceof MessageComplete) {
                flush(target, field, value);
                field = null;
                m.complete = true;
            }
            if (!(e instanceof LlhttpCorpus.Other)) {
                m.lastEvent = e;
            }
        }
        flush(target, field, value);
        if (m != null && !m.complete && m.headersComplete && c.error() == null) {
            complete(m);
        }
        return messages;
    }

    /**
     * The bytes that finish a last message the input leaves open, so that the case can be checked end to end: the
     * missing body bytes ({@code x}) of a Content-Length body, or the end of a chunked body. Nothing when the input
     * stops in the middle of a chunk; the case then ends {@link End#PENDING}.
     */
    private static void complete(Parsed m) {
        if ((m.flags & 0x8) != 0) {
            if (m.lastEvent instanceof HeadersComplete || m.lastEvent instanceof ChunkComplete) {
                m.completion = "0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
            } else if (m.lastEvent instanceof ChunkHeader ch && ch.length() == 0) {
                m.completion = "\r\n".getBytes(StandardCharsets.US_ASCII);
            }
        } else if ((m.flags & 0x20) != 0 && m.contentLength > m.bodyReceived) {
            byte[] filler = new byte[Math.toIntExact(m.contentLength - m.bodyReceived)];
            Arrays.fill(filler, (byte) 'x');
            m.completion = filler;
            m.completionBody = filler;
        }
    }

    private static void flush(List<Map.Entry<String, String>> target, String field, StringBuilder value) {
        if (target != null && field != null && value != null) {
            target.add(Map.entry(field, value.toString().replaceAll("^[ \t]+|[ \t]+$", "")));
        }
    }

    private static List<Span> spans(Case c, String kind) {
        return c.events().stream()
                .filter(e -> e instanceof Span s && s.kind().equals(kind))
                .map(e -> (Span) e)
                .toList();
    }

    private static String text(Case c, Span s) {
        return new String(c.bytes(s), StandardCharsets.UTF_8);
    }

    private static String firstWord(byte[] input) {
        String s = new String(input, StandardCharsets.ISO_8859_1);
        int sp = s.indexOf(' ');
        return sp < 0 ? s : s.substring(0, sp);
    }

    private static boolean isTchar(int ch) {
        return ch > 0x20 && ch < 0x7f && "\"(),/:;<=>?@[\\]{}".indexOf(ch) < 0;
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new IllegalStateException("no CRLF after offset " + from);
    }

    /** A map key for input bytes. */
    static String key(byte[] input) {
        return new String(input, StandardCharsets.ISO_8859_1);
    }

    /** The strict, non-excluded cases by input, for {@link #of(Case, Map)}. */
    static Map<String, Case> strictByInput(List<Case> cases) {
        var map = new HashMap<String, Case>();
        for (Case c : cases) {
            if (!c.lenient() && exclusion(c) == null) {
                map.putIfAbsent(key(c.input()), c);
            }
        }
        return map;
    }

    /** Exclusion reasons with their cases, in corpus order, for the report. */
    static Map<String, List<String>> excludedGroups(List<Case> cases) {
        var groups = new LinkedHashMap<String, List<String>>();
        for (Case c : cases) {
            String why = exclusion(c);
            if (why != null) {
                groups.computeIfAbsent(why.replaceAll("'[^']*'", "'…'"), k -> new ArrayList<>())
                        .add(c.id());
            }
        }
        return groups;
    }
}
