package dev.torii.server.internal;

import dev.torii.ListenerOptions;
import dev.torii.proxyprotocol.ProxyProtocolAccept;
import dev.torii.proxyprotocol.ProxyProtocolVersion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * A TCP listener's {@code proxyProtocol:} mapping:
 *
 * <pre>
 * proxyProtocol:
 *   accept: true                 # read a PROXY v1/v2 header ...
 *   trustedCidrs: [ 10.0.0.0/8 ] # ... from these peers only (required with accept)
 *   headerTimeout: 5s
 *   send: v2                     # send a header to each backend connection (v1 or v2)
 * </pre>
 *
 * One per listener; not thread-safe.
 */
final class ProxyProtocolReader {
    static final List<String> KEYS = List.of("accept", "trustedCidrs", "headerTimeout", "send");

    private final YamlReader yaml;

    ProxyProtocolReader(YamlReader yaml) {
        this.yaml = yaml;
    }

    /** {@code options} with what {@code node} says; {@code null} when it has errors (reported). */
    ListenerOptions read(Node node, String path, ListenerOptions options) {
        YamlReader.Fields f = yaml.fields(node, path, KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        Boolean accept = yaml.valueOr(f, "accept", yaml::bool, false);
        List<String> cidrs = new ArrayList<>();
        Node cidrsNode = f.value("trustedCidrs");
        if (cidrsNode != null) {
            List<Node> items = yaml.sequence(cidrsNode, f.path("trustedCidrs"));
            if (items != null) {
                for (int i = 0; i < items.size(); i++) {
                    String p = f.path("trustedCidrs") + "[" + i + "]";
                    String cidr = yaml.string(items.get(i), p);
                    if (cidr != null && yaml.probe(items.get(i), p, () -> ProxyProtocolAccept.from(cidr))) {
                        cidrs.add(cidr);
                    }
                }
            }
        }
        Duration timeout = yaml.valueOr(
                f, "headerTimeout", (n, p) -> yaml.duration(n, p, false), ProxyProtocolAccept.DEFAULT_HEADER_TIMEOUT);
        ProxyProtocolVersion send = null;
        Node sendNode = f.value("send");
        if (sendNode != null) {
            String v = yaml.string(sendNode, f.path("send"));
            if ("v1".equals(v)) {
                send = ProxyProtocolVersion.V1;
            } else if ("v2".equals(v)) {
                send = ProxyProtocolVersion.V2;
            } else if (v != null) {
                yaml.error(sendNode, f.path("send") + ": '" + v + "' (expected: v1 or v2)");
            }
        }
        if (Boolean.TRUE.equals(accept) && cidrsNode == null) {
            yaml.error(
                    node,
                    path + ": accept: true without trustedCidrs (expected: the peers allowed to send a header,"
                            + " such as [ 10.0.0.0/8 ])");
        } else if (!Boolean.TRUE.equals(accept) && cidrsNode != null) {
            yaml.error(cidrsNode, f.path("trustedCidrs") + ": only with accept: true");
        }
        if (yaml.errorCount() != before) {
            return null;
        }
        ListenerOptions o = options.withSendProxyProtocol(send);
        return Boolean.TRUE.equals(accept) && !cidrs.isEmpty()
                ? o.withProxyProtocol(new ProxyProtocolAccept(cidrs, timeout))
                : o;
    }
}
