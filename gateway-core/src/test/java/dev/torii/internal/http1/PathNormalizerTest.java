package dev.torii.internal.http1;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.PathNormalization;
import dev.torii.PathNormalization.EscapedSlashes;
import org.junit.jupiter.api.Test;

class PathNormalizerTest {
    private static final PathNormalization DEFAULTS = PathNormalization.defaults();

    private static String normalized(String target) {
        return normalized(target, DEFAULTS);
    }

    private static String normalized(String target, PathNormalization settings) {
        PathNormalizer.Result r = PathNormalizer.normalize(target, settings);
        assertThat(r.problem()).as(target).isNull();
        return r.target();
    }

    private static String refusal(String target, PathNormalization settings) {
        PathNormalizer.Result r = PathNormalizer.normalize(target, settings);
        assertThat(r.target()).as(target).isNull();
        return r.problem();
    }

    @Test
    void aPathWithNothingToNormaliseIsReturnedAsReceivedWithoutACopy() {
        for (String target : new String[] {"/", "/api/v1/users?q=/../%2F", "/a.b/..c/...", "/x/.well-known/y"}) {
            assertThat(PathNormalizer.normalize(target, DEFAULTS).target()).isSameAs(target);
        }
        // One character that needs work sends a path down the full route, whatever its position.
        assertThat(normalized("/api/v1/users/%7e")).isEqualTo("/api/v1/users/~");
        assertThat(normalized("/api/v1/users/..")).isEqualTo("/api/v1/");
        assertThat(normalized("/api/v1/users//")).isEqualTo("/api/v1/users/");
    }

    @Test
    void dotSegmentsAreRemoved() {
        assertThat(normalized("/x/../admin/")).isEqualTo("/admin/");
        assertThat(normalized("/./admin")).isEqualTo("/admin");
        assertThat(normalized("/a/b/./c/../d")).isEqualTo("/a/b/d");
        assertThat(normalized("/a/.")).isEqualTo("/a/");
        assertThat(normalized("/a/..")).isEqualTo("/");
        assertThat(normalized("/a/..b/.c")).isEqualTo("/a/..b/.c");
    }

    @Test
    void encodedDotSegmentsAreDecodedThenRemoved() {
        assertThat(normalized("/x/%2e%2E/admin")).isEqualTo("/admin");
        assertThat(normalized("/x/.%2e/admin")).isEqualTo("/admin");
        assertThat(normalized("/%2e/admin")).isEqualTo("/admin");
    }

    @Test
    void duplicateSlashesAreMergedByDefault() {
        assertThat(normalized("//admin/")).isEqualTo("/admin/");
        assertThat(normalized("/a///b//")).isEqualTo("/a/b/");
    }

    @Test
    void duplicateSlashesAreKeptWhenMergingIsOff() {
        var keep = new PathNormalization(true, false, EscapedSlashes.KEEP);
        assertThat(normalized("//admin/", keep)).isEqualTo("//admin/");
        assertThat(normalized("/a//../b", keep)).isEqualTo("/a/b");
    }

    @Test
    void unreservedCharactersAreDecodedAndOtherEscapesUpperCased() {
        assertThat(normalized("/%61dmin/")).isEqualTo("/admin/");
        assertThat(normalized("/%41%7a%30%2d%5f%7E")).isEqualTo("/Az0-_~");
        assertThat(normalized("/a%20b%3f%c3%a9")).isEqualTo("/a%20b%3F%C3%A9");
    }

    @Test
    void theQueryIsKeptAsReceived() {
        assertThat(normalized("/x/../a//b?p=/../%61&q=//")).isEqualTo("/a/b?p=/../%61&q=//");
        assertThat(normalized("/?x")).isEqualTo("/?x");
    }

    @Test
    void aPathThatClimbsAboveTheRootIsRefused() {
        assertThat(refusal("/../admin", DEFAULTS)).contains("above the root");
        assertThat(refusal("/%2e%2e/admin", DEFAULTS)).contains("above the root");
        assertThat(refusal("/a/../../admin", DEFAULTS)).contains("above the root");
        assertThat(refusal("/..", DEFAULTS)).contains("above the root");
    }

    @Test
    void anInvalidEscapeIsRefused() {
        assertThat(refusal("/%zz/admin", DEFAULTS)).contains("percent-encoding");
        assertThat(refusal("/admin%2", DEFAULTS)).contains("percent-encoding");
        assertThat(refusal("/admin%", DEFAULTS)).contains("percent-encoding");
    }

    @Test
    void encodedSlashesAreKeptUpperCasedByDefault() {
        assertThat(normalized("/admin%2f")).isEqualTo("/admin%2F");
        assertThat(normalized("/x%2F..%2Fadmin")).isEqualTo("/x%2F..%2Fadmin");
        assertThat(normalized("/%5cadmin")).isEqualTo("/%5Cadmin");
        assertThat(normalized("/a\\b")).isEqualTo("/a\\b");
    }

    @Test
    void encodedSlashesAreRefusedWhenAskedTo() {
        var reject = new PathNormalization(true, true, EscapedSlashes.REJECT);
        assertThat(refusal("/admin%2F", reject)).contains("%2F");
        assertThat(refusal("/%5Cadmin", reject)).contains("%5C");
        assertThat(refusal("/a\\admin", reject)).contains("\\");
        assertThat(normalized("/admin/?a=%2F", reject)).isEqualTo("/admin/?a=%2F");
    }

    @Test
    void encodedSlashesAreUnescapedBeforeDotSegmentsWhenAskedTo() {
        var unescape = new PathNormalization(true, true, EscapedSlashes.UNESCAPE);
        assertThat(normalized("/admin%2F", unescape)).isEqualTo("/admin/");
        assertThat(normalized("/x%2F..%2Fadmin", unescape)).isEqualTo("/admin");
        assertThat(normalized("/%5Cadmin", unescape)).isEqualTo("/admin");
        assertThat(normalized("/x\\..\\admin", unescape)).isEqualTo("/admin");
        assertThat(refusal("/%2F..%2F..%2Fadmin", unescape)).contains("above the root");
    }

    @Test
    void nothingChangesWhenNormalisationIsOff() {
        assertThat(normalized("/x/../%61dmin//%zz", PathNormalization.off())).isEqualTo("/x/../%61dmin//%zz");
    }
}
