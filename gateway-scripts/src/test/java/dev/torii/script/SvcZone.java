package dev.torii.script;

import dev.torii.dns.DnsCache;
import dev.torii.testing.TestUpstream;
import dev.torii.testing.UnboundServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * The DNS fixture of the script resolve tests: two echoing upstreams (blue, green), a port nothing listens on, and a
 * real unbound serving the zone {@code svc.test.} (its SOA, then the records a test writes from those ports). Closing it
 * stops them all.
 */
final class SvcZone implements AutoCloseable {
    /** The records of {@code svc.test.} (unbound {@code local-data:} lines), written from the fixture's ports. */
    @FunctionalInterface
    interface Records {
        List<String> lines(int bluePort, int greenPort, int deadPort);
    }

    final TestUpstream blue;
    final TestUpstream green;
    final UnboundServer unbound;
    /** {@code 127.0.0.1:<port>} where nothing listens. */
    final String deadEndpoint;

    private SvcZone(TestUpstream blue, TestUpstream green, UnboundServer unbound, String deadEndpoint) {
        this.blue = blue;
        this.green = green;
        this.unbound = unbound;
        this.deadEndpoint = deadEndpoint;
    }

    static SvcZone start(Records records) throws IOException {
        TestUpstream blue = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE);
        TestUpstream green = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE);
        try {
            int dead;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                dead = s.getLocalPort();
            }
            List<String> lines = new ArrayList<>(List.of(
                    "local-zone: \"svc.test.\" static",
                    "local-data: \"svc.test. 3600 IN SOA ns.svc.test. admin.svc.test. 1 3600 600 86400 5\""));
            lines.addAll(records.lines(blue.port(), green.port(), dead));
            return new SvcZone(blue, green, UnboundServer.start(lines), "127.0.0.1:" + dead);
        } catch (IOException | RuntimeException e) {
            blue.close();
            green.close();
            throw e;
        }
    }

    /** A DNS cache asking this unbound. */
    DnsCache cache() {
        return DnsCache.builder().upstreams(List.of(unbound.address())).build();
    }

    @Override
    public void close() {
        unbound.close();
        blue.close();
        green.close();
    }
}
