package dev.torii.internal.upstream;

import io.netty.handler.codec.http.HttpObject;

/** What an upstream connection reports to the exchange using it. Called on the connection's event loop. */
public interface UpstreamListener {
    /** A decoded response part; the listener owns {@code msg} and must release or pass it on. */
    void onUpstreamMessage(HttpObject msg);

    /** The end of one socket read: a good moment to flush what was relayed. */
    void onUpstreamReadComplete();

    /** The connection closed. */
    void onUpstreamInactive();

    /** The connection's outbound buffer crossed a water mark. */
    void onUpstreamWritabilityChanged(boolean writable);
}
