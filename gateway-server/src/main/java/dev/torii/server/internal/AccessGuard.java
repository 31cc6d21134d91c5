package dev.torii.server.internal;

import dev.torii.ConnectionGuard;
import dev.torii.access.AccessControl;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.LongAdder;

/**
 * The connection guard of the running access lists, which a configuration reload replaces: the gateway's guards are
 * fixed when it is built, so {@code ToriiServer} installs this one and swaps the {@link AccessControl} behind it. With
 * none (an open {@code access} section) every connection is admitted.
 *
 * <p>Thread-safe: {@link #admit} runs on the accepting event loops, {@link #use} on the reloading thread.
 */
public final class AccessGuard implements ConnectionGuard {
    private volatile ConnectionGuard current;
    /** What the replaced guards refused, so the counter never goes down across reloads. */
    private final LongAdder refusedBefore = new LongAdder();

    /** A guard enforcing {@code access} (null: admits everything). */
    public AccessGuard(AccessControl access) {
        this.current = access == null ? null : access.connectionGuard();
    }

    /** Enforces {@code access} on connections accepted from now on (null: admits everything). */
    public void use(AccessControl access) {
        ConnectionGuard old = current;
        current = access == null ? null : access.connectionGuard();
        if (old != null) {
            refusedBefore.add(old.refused());
        }
    }

    @Override
    public boolean admit(String listener, InetSocketAddress client) {
        ConnectionGuard g = current;
        return g == null || g.admit(listener, client);
    }

    @Override
    public String reason() {
        return "access_list";
    }

    @Override
    public long refused() {
        ConnectionGuard g = current;
        return refusedBefore.sum() + (g == null ? 0 : g.refused());
    }
}
