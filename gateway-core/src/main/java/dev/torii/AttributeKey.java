package dev.torii;

import java.util.Objects;

/**
 * A typed key for a value attached to an {@link Exchange}. Keys compare by identity: two keys with the same name are
 * different keys, so hooks cannot collide by accident. Create keys once, as constants. Thread-safe.
 *
 * @param <T> the type of the value
 */
public final class AttributeKey<T> {
    private final String name;
    private final Class<T> type;

    private AttributeKey(String name, Class<T> type) {
        this.name = Objects.requireNonNull(name, "name");
        this.type = Objects.requireNonNull(type, "type");
    }

    /** A new key; {@code name} is used only in messages. */
    public static <T> AttributeKey<T> of(String name, Class<T> type) {
        return new AttributeKey<>(name, type);
    }

    /** The name given at creation. */
    public String name() {
        return name;
    }

    /** The type of values stored under this key. */
    public Class<T> type() {
        return type;
    }

    @Override
    public String toString() {
        return "AttributeKey(" + name + ": " + type.getSimpleName() + ")";
    }
}
