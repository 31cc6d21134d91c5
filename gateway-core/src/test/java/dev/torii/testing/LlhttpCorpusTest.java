package dev.torii.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.testing.LlhttpCorpus.Case;
import dev.torii.testing.LlhttpCorpus.Span;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class LlhttpCorpusTest {
    private static final List<Case> CASES = LlhttpCorpus.requestCases(LlhttpCorpus.locate());

    @Test
    void corpusIsFoundBesideTheRepository() {
        assertThat(Files.isRegularFile(LlhttpCorpus.locate().resolve("README.md")))
                .isTrue();
    }

    @Test
    void everyRequestCaseOfEveryFileIsFound() {
        Map<String, Long> perFile =
                CASES.stream().collect(Collectors.groupingBy(Case::file, TreeMap::new, Collectors.counting()));
        assertThat(perFile)
                .containsExactlyEntriesOf(new TreeMap<>(Map.ofEntries(
                        Map.entry("connection.md", 21L),
                        Map.entry("content-length.md", 18L),
                        Map.entry("finish.md", 3L),
                        Map.entry("invalid.md", 24L),
                        Map.entry("lenient-header-value-relaxed.md", 5L),
                        Map.entry("lenient-headers.md", 4L),
                        Map.entry("lenient-version.md", 1L),
                        Map.entry("method.md", 16L),
                        Map.entry("pausing.md", 13L),
                        Map.entry("pipelining.md", 1L),
                        Map.entry("sample.md", 18L),
                        Map.entry("transfer-encoding.md", 31L),
                        Map.entry("uri.md", 11L))));
        assertThat(CASES).hasSize(166);
        assertThat(CASES.stream().map(Case::id).distinct()).hasSize(166);
    }

    @Test
    void everyCaseHasATypeAnInputAndALogThatParses() {
        for (Case c : CASES) {
            assertThat(c.type()).as(c.id()).startsWith("request");
            assertThat(c.input()).as(c.id()).isNotEmpty();
            assertThat(c.events()).as(c.id()).isNotEmpty();
            assertThat(c.events()).as(c.id()).noneMatch(e -> e.offset() > c.input().length);
        }
    }

    /** The strongest check of the decoding: llhttp's byte offsets and span texts must match the decoded input. */
    @Test
    void spanOffsetsPointAtTheTextTheLogShows() {
        int checked = 0;
        for (Case c : CASES) {
            for (var e : c.events()) {
                if (e instanceof Span s && !s.logged().contains("\\")) {
                    assertThat(new String(c.bytes(s), StandardCharsets.UTF_8))
                            .as("%s span %s at %d", c.id(), s.kind(), s.offset())
                            .isEqualTo(s.logged());
                    checked++;
                }
            }
        }
        assertThat(checked).isGreaterThan(1000);
    }

    @Test
    void inputEscapesDecodeAsLlhttpsTestRunnerDoes() {
        assertThat(LlhttpCorpus.decodeInput("GET / HTTP/1.1\nA: \\x0c\\t\\033\n\n"))
                .isEqualTo("GET / HTTP/1.1\r\nA: \f\t\u001b\r\n".getBytes(StandardCharsets.UTF_8));
        assertThat(LlhttpCorpus.decodeInput("a\\n\\\nb\\r\n"))
                .as("a backslash before a newline joins the lines")
                .isEqualTo("a\nb\r".getBytes(StandardCharsets.UTF_8));
        assertThat(LlhttpCorpus.decodeInput("\\xff\n")).as("sent as UTF-8").containsExactly(0xc3, 0xbf);
    }

    @Test
    void lenientCasesAreRecognisedByTheirType() {
        assertThat(CASES.stream().filter(Case::lenient)).hasSize(29);
        assertThat(CASES.stream().filter(c -> c.heading().equals("Header value (lenient)")))
                .singleElement()
                .matches(Case::lenient);
    }
}
