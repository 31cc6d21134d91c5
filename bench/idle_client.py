#!/usr/bin/env python3
"""bench/idle_client.py - opens N connections to HOST:PORT and holds them idle (used by bench/idle.sh).

Kinds: tcp and http send one HTTP/1.1 keep-alive "GET /" and read its answer (through a tcp listener the bytes go
to the HTTP backend and back, which proves the connection reaches the upstream); h2 sends the HTTP/2 preface,
an empty SETTINGS, one GET on stream 1, acknowledges the server's SETTINGS and reads the answer to END_STREAM;
h2s does the same over TLS (ALPN h2, the certificate is not checked).
Then every connection stays open without traffic. Connections come from SOURCES local addresses 127.0.0.2...
(bound with port 0) to stay clear of the ephemeral-port range of one address. Prints "READY ok=N failed=M" once
all are open, then holds them until killed (SIGTERM closes them all as the process exits).

Usage: idle_client.py KIND HOST PORT N [SOURCES=8] [PARALLEL=200]
"""
import asyncio
import resource
import signal
import ssl
import struct
import sys

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


async def http1(reader, writer, host):
    writer.write(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("status: " + head.split(b"\r\n", 1)[0].decode(errors="replace"))
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)


async def h2(reader, writer, host, scheme=0x86):
    # HPACK: :method GET (static 2), :scheme http (6) or https (7), :path / (4), :authority literal, indexed name (1).
    block = bytes([0x82, scheme, 0x84, 0x41, len(host)]) + host.encode()
    writer.write(PREFACE + frame(4, 0, 0) + frame(1, 0x05, 1, block))
    while True:
        hdr = await reader.readexactly(9)
        length = int.from_bytes(hdr[0:3], "big")
        ftype, flags, stream = hdr[3], hdr[4], int.from_bytes(hdr[5:9], "big") & 0x7FFFFFFF
        payload = await reader.readexactly(length)
        if ftype == 4 and not flags & 1:
            writer.write(frame(4, 1, 0))
        elif ftype in (3, 7):
            raise RuntimeError("RST_STREAM or GOAWAY: " + payload.hex())
        elif stream == 1 and ftype in (0, 1) and flags & 1:
            return


def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    return context


async def one(i, kind, host, port, sources, sem, conns, tls):
    async with sem:
        src = "127.0.0.%d" % (2 + i % sources)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, local_addr=(src, 0), ssl=tls), 30)
        conns.append(writer)
        if kind == "h2s":
            if writer.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
                raise RuntimeError("ALPN did not select h2")
            await asyncio.wait_for(h2(reader, writer, host, 0x87), 30)
        else:
            await asyncio.wait_for(h2(reader, writer, host) if kind == "h2" else http1(reader, writer, host), 30)


async def main():
    kind, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sources = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    parallel = int(sys.argv[6]) if len(sys.argv) > 6 else 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < n + 100:
        sys.exit("RLIMIT_NOFILE hard limit %d < %d connections (raise ulimit -Hn)" % (hard, n))
    sem = asyncio.Semaphore(parallel)
    conns = []
    tls = tls_context() if kind == "h2s" else None
    results = await asyncio.gather(*(one(i, kind, host, port, sources, sem, conns, tls) for i in range(n)),
                                   return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    for r in failed[:3]:
        print("error: %r" % (r,), file=sys.stderr, flush=True)
    print("READY ok=%d failed=%d" % (n - len(failed), len(failed)), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for w in conns:
        w.transport.abort()


asyncio.run(main())
