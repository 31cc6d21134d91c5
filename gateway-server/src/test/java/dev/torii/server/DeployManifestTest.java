package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.server.config.DnsListenerSettings;
import dev.torii.server.config.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The Kubernetes manifests under {@code deploy/} parse, have the shape a node-local DNS cache needs, and carry a
 * torii.yaml that this version of Torii accepts (so a key renamed in the code cannot silently break the DaemonSet).
 */
class DeployManifestTest {
    private static final Path DEPLOY = Path.of("..", "deploy");

    @Test
    @SuppressWarnings("unchecked")
    void theNodeLocalDnsDaemonSetParsesAndItsConfigIsValid() throws Exception {
        String text = Files.readString(DEPLOY.resolve("kubernetes/node-local-dns.yaml"));
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : new Load(LoadSettings.builder().build()).loadAllFromString(text)) {
            docs.add((Map<String, Object>) doc);
        }
        assertThat(docs).extracting(d -> d.get("kind")).containsExactly("ServiceAccount", "ConfigMap", "DaemonSet");

        Map<String, Object> configMap = docs.get(1);
        String toriiYaml = (String) ((Map<String, Object>) configMap.get("data")).get("torii.yaml");
        ServerConfig config = ConfigLoader.parse("node-local-dns.yaml#torii.yaml", toriiYaml);
        DnsListenerSettings listener = config.dnsListeners().getFirst();
        assertThat(listener.address()).isEqualTo("169.254.20.10:53");
        assertThat(listener.rateLimit()).isPresent();
        // NodeLocal DNSCache's Corefile zones: cluster.local and the reverse zones to the cluster DNS over TCP, the
        // rest
        // to the node's resolvers.
        var dns = config.dns().orElseThrow();
        assertThat(dns.resolvConf()).contains(Path.of("/etc/resolv.conf"));
        assertThat(dns.zones()).containsOnlyKeys("cluster.local", "in-addr.arpa", "ip6.arpa");
        dns.zones().values().forEach(zone -> {
            assertThat(zone.forceTcp()).isTrue();
            assertThat(zone.upstreams()).containsExactly("10.96.0.10:53");
        });
        int adminPort = config.admin().orElseThrow().port();

        Map<String, Object> spec = (Map<String, Object>)
                ((Map<String, Object>) ((Map<String, Object>) docs.get(2).get("spec")).get("template")).get("spec");
        assertThat(spec.get("hostNetwork")).isEqualTo(true);
        assertThat(spec.get("dnsPolicy")).isEqualTo("Default");
        Map<String, Object> torii = ((List<Map<String, Object>>) spec.get("containers")).getFirst();
        assertThat((List<Map<String, Object>>) torii.get("ports"))
                .extracting(p -> p.get("containerPort") + "/" + p.get("protocol"))
                .containsExactly("53/UDP", "53/TCP", adminPort + "/TCP");
        Map<String, Object> liveness =
                (Map<String, Object>) ((Map<String, Object>) torii.get("livenessProbe")).get("httpGet");
        Map<String, Object> readiness =
                (Map<String, Object>) ((Map<String, Object>) torii.get("readinessProbe")).get("httpGet");
        assertThat(liveness).containsEntry("path", "/healthz").containsEntry("port", adminPort);
        assertThat(readiness).containsEntry("path", "/readyz").containsEntry("port", adminPort);
        assertThat(liveness.get("host")).isEqualTo(config.admin().get().host());
        assertThat(((Map<String, Object>) torii.get("resources")).get("requests"))
                .isNotNull();
        assertThat(((List<String>) torii.get("args"))).containsExactly("run", "--config", "/etc/torii/torii.yaml");
    }

    @Test
    void theDockerfileUnpacksTheSelfContainedArchiveAndRunsTheLauncher() throws Exception {
        String dockerfile = Files.readString(DEPLOY.resolve("Dockerfile"));
        String pom = Files.readString(Path.of("pom.xml"));
        String version = pom.substring(pom.indexOf("<version>") + 9, pom.indexOf("</version>"));
        assertThat(dockerfile)
                .contains("FROM debian:bookworm-slim")
                .contains("ARG VERSION=" + version)
                .contains("ADD gateway-server/target/torii-${VERSION}-linux-x86_64.tar.gz /opt/")
                .contains("ENTRYPOINT [\"/opt/torii/bin/torii\"]");
        // What the image unpacks is what the build makes: the archive of src/build/package.sh beside the directory.
        assertThat(pom).contains("<torii.dist.directory>${project.build.directory}/torii</torii.dist.directory>");
        assertThat(Files.readString(Path.of("src/build/package.sh")))
                .contains("archive=$target/torii-$version-linux-x86_64.tar.gz");
    }
}
