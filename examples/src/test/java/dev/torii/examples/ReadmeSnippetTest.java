package dev.torii.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The README's embedding snippet is the code of {@link EmbeddedGateway}, so it compiles and cannot rot. */
class ReadmeSnippetTest {
    private static String region(String text, String start, String end) {
        int s = text.indexOf(start);
        int e = text.indexOf(end, s + 1);
        assertThat(s).as("marker %s", start).isNotNegative();
        assertThat(e).as("marker %s", end).isPositive();
        String body = text.substring(text.indexOf('\n', s) + 1, e);
        body = body.substring(0, body.lastIndexOf('\n') + 1);
        int indent = Arrays.stream(body.split("\n"))
                .filter(l -> !l.isBlank())
                .mapToInt(l -> l.length() - l.stripLeading().length())
                .min()
                .orElse(0);
        return Arrays.stream(body.split("\n"))
                .map(l -> l.length() >= indent ? l.substring(indent) : l.strip())
                .collect(Collectors.joining("\n"))
                .strip();
    }

    @Test
    void readmeShowsExactlyTheCompiledEmbeddingExample() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.exists(root.resolve("mvnw"))) {
            root = root.getParent();
        }
        String source =
                Files.readString(root.resolve("examples/src/main/java/dev/torii/examples/EmbeddedGateway.java"));
        String readme = Files.readString(root.resolve("README.md"));
        String fromSource = region(source, "// readme:start", "// readme:end");
        String fromReadme = region(readme, "<!-- embed:start -->", "<!-- embed:end -->")
                .replaceFirst("^```java\n", "")
                .replaceFirst("\n```$", "")
                .strip();
        assertThat(fromReadme).isEqualTo(fromSource);
    }
}
