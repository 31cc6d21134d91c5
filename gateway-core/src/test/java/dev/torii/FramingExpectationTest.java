package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.FramingExpectation.End;
import dev.torii.testing.LlhttpCorpus;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FramingExpectationTest {
    private static final List<LlhttpCorpus.Case> CASES = LlhttpCorpus.requestCases(LlhttpCorpus.locate());
    private static final Map<String, LlhttpCorpus.Case> TWINS = FramingExpectation.strictByInput(CASES);

    private static List<FramingExpectation> running() {
        return CASES.stream()
                .filter(c -> FramingExpectation.exclusion(c) == null)
                .map(c -> FramingExpectation.of(c, TWINS))
                .toList();
    }

    @Test
    void llhttpsOwnChoicesAreLeftOutByDocumentedGroups() {
        Map<String, List<String>> groups = FramingExpectation.excludedGroups(CASES);
        assertThat(groups.values().stream().mapToInt(List::size).sum()).isEqualTo(35);
        assertThat(groups).hasSize(12);
        assertThat(running()).hasSize(131);
    }

    @Test
    void rejectedCasesOutnumberAcceptedOnesAndEachHasAStatus() {
        var byEnd = running().stream()
                .collect(java.util.stream.Collectors.groupingBy(
                        FramingExpectation::end, java.util.stream.Collectors.counting()));
        assertThat(byEnd)
                .containsEntry(End.REJECTED, 76L)
                .containsEntry(End.KEEP_ALIVE, 44L)
                .containsEntry(End.CLOSE, 5L)
                .containsEntry(End.IGNORE_AFTER_CLOSE, 5L)
                .containsEntry(End.PENDING, 1L);
        running().stream()
                .filter(e -> e.end() == End.REJECTED)
                .forEach(e -> assertThat(e.rejectStatuses()).as(e.id()).contains(400));
    }

    @Test
    void aLenientOnlyCaseIsRejectedLikeItsStrictTwin() {
        var lenient = running().stream()
                .filter(e -> e.id().startsWith("sample.md:458 No LF after CR (lenient)"))
                .findFirst()
                .orElseThrow();
        assertThat(lenient.end()).isEqualTo(End.REJECTED);
        assertThat(lenient.forwarded()).isEmpty();
    }

    @Test
    void anAcceptedHttp11MessageWithoutHostGetsOneAndIsFollowedByAProbe() {
        var e = running().stream()
                .filter(x -> x.id().startsWith("pipelining.md:7"))
                .findFirst()
                .orElseThrow();
        assertThat(new String(e.send(), StandardCharsets.ISO_8859_1))
                .startsWith("POST /aaa HTTP/1.1\r\nHost: llhttp.test\r\nContent-Length: 3\r\n\r\nAAA\r\n")
                .contains("CCCCx" + FramingExpectation.PROBE);
        assertThat(e.forwarded()).extracting(m -> m.method()).containsExactly("POST", "PUT", "PATCH", "GET");
        assertThat(e.end()).isEqualTo(End.KEEP_ALIVE);
    }
}
