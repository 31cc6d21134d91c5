package dev.torii.server.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * {@code deploy/kubernetes}, as {@code kubectl kustomize} renders it (offline; Debian's {@code kubernetes-client}
 * package has kubectl): the gateway's Deployment, Service, ConfigMap, PodDisruptionBudget and HorizontalPodAutoscaler
 * beside the node-local DNS DaemonSet, probes on the admin port the embedded torii.yaml opens, and every embedded
 * torii.yaml accepted by {@code torii check} of the built distribution.
 */
class KubernetesManifestIT {
    private static final Path KUSTOMIZATION =
            Path.of("..", "deploy", "kubernetes").toAbsolutePath().normalize();

    @Test
    @SuppressWarnings("unchecked")
    void kustomizeRendersTheGatewayAndTheDnsCacheAndToriiCheckAcceptsTheirConfigs(@TempDir Path dir) throws Exception {
        Dist.Result rendered =
                Dist.run(List.of("kubectl", "kustomize", KUSTOMIZATION.toString()), null, Duration.ofMinutes(2));
        assertThat(rendered.exitCode()).as(rendered.output()).isZero();
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : new Load(LoadSettings.builder().build()).loadAllFromString(rendered.output())) {
            docs.add((Map<String, Object>) doc);
        }
        assertThat(docs)
                .extracting(d -> d.get("kind"))
                .contains(
                        "Deployment",
                        "Service",
                        "ConfigMap",
                        "PodDisruptionBudget",
                        "HorizontalPodAutoscaler",
                        "DaemonSet",
                        "ServiceAccount");

        Map<String, Object> deployment = only(docs, "Deployment", "torii-gateway");
        Map<String, Object> pod = (Map<String, Object>)
                ((Map<String, Object>) ((Map<String, Object>) deployment.get("spec")).get("template")).get("spec");
        Map<String, Object> torii = ((List<Map<String, Object>>) pod.get("containers")).getFirst();
        Map<String, Object> readiness =
                (Map<String, Object>) ((Map<String, Object>) torii.get("readinessProbe")).get("httpGet");
        Map<String, Object> liveness =
                (Map<String, Object>) ((Map<String, Object>) torii.get("livenessProbe")).get("httpGet");
        assertThat(readiness).containsEntry("path", "/readyz").containsEntry("port", "admin");
        assertThat(liveness).containsEntry("path", "/healthz").containsEntry("port", "admin");
        int adminPort = ((List<Map<String, Object>>) torii.get("ports"))
                .stream()
                        .filter(p -> "admin".equals(p.get("name")))
                        .map(p -> (Integer) p.get("containerPort"))
                        .findFirst()
                        .orElseThrow();
        assertThat(((Map<String, Object>) torii.get("lifecycle")).get("preStop"))
                .isNotNull();
        assertThat(((Map<String, Object>) torii.get("resources")).get("requests"))
                .isNotNull();

        // The ConfigMap the pod mounts is the generated one, and its torii.yaml opens the admin API on that port.
        String configMapName = ((Map<String, Object>) ((List<Map<String, Object>>) pod.get("volumes"))
                        .stream()
                                .filter(v -> "config".equals(v.get("name")))
                                .findFirst()
                                .orElseThrow()
                                .get("configMap"))
                .get("name")
                .toString();
        Map<String, Object> configMap = only(docs, "ConfigMap", configMapName);
        String gatewayYaml = (String) ((Map<String, Object>) configMap.get("data")).get("torii.yaml");
        assertThat(gatewayYaml).contains("admin: { address: \"0.0.0.0:" + adminPort + "\" }");

        Map<String, Object> hpa = only(docs, "HorizontalPodAutoscaler", "torii-gateway");
        assertThat(((Map<String, Object>) ((Map<String, Object>) hpa.get("spec")).get("scaleTargetRef")).get("name"))
                .isEqualTo("torii-gateway");

        // Every embedded torii.yaml passes `torii check` of this build.
        for (Map<String, Object> cm :
                docs.stream().filter(d -> "ConfigMap".equals(d.get("kind"))).toList()) {
            String name = (String) ((Map<String, Object>) cm.get("metadata")).get("name");
            String yaml = (String) ((Map<String, Object>) cm.get("data")).get("torii.yaml");
            Path file = Files.writeString(dir.resolve(name + ".yaml"), yaml);
            Dist.Result check = Dist.run(
                    List.of(Dist.directory().resolve("bin/torii").toString(), "check", "--config", file.toString()),
                    null,
                    Duration.ofMinutes(2));
            assertThat(check.exitCode()).as(name + ": " + check.output()).isZero();
            assertThat(check.output()).contains(file + ": ok");
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> only(List<Map<String, Object>> docs, String kind, String name) {
        return docs.stream()
                .filter(d -> kind.equals(d.get("kind"))
                        && name.equals(((Map<String, Object>) d.get("metadata")).get("name")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name));
    }
}
