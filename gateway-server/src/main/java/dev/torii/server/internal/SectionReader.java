package dev.torii.server.internal;

import dev.torii.server.internal.YamlReader.Fields;
import java.util.List;
import java.util.function.Function;

/**
 * Reads the top-level keys of one section of {@code torii.yaml} into a {@link ConfigDraft}, recording each problem in
 * the draft's {@link YamlReader} and reading on past it. {@link ConfigReader#SECTIONS} lists one {@link Entry} per
 * section: adding a section is one line there (plus the field it fills in the draft and in {@code ServerConfig}).
 *
 * <p>One instance reads one file; not thread-safe.
 */
interface SectionReader {
    /**
     * Reads this section's keys from the top-level mapping; a missing key means the section's defaults.
     *
     * @param top the top-level mapping, whose keys {@link ConfigReader} has already checked
     */
    void read(Fields top);

    /**
     * One section as {@link ConfigReader} lists it: the top-level keys it owns and how to make its reader.
     *
     * @param keys the top-level keys, in the order an unknown key's suggestion lists them
     * @param reader makes the reader for one file's draft
     */
    record Entry(List<String> keys, Function<ConfigDraft, SectionReader> reader) {
        public Entry {
            keys = List.copyOf(keys);
        }
    }
}
