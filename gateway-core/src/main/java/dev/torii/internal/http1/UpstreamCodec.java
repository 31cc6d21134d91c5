package dev.torii.internal.http1;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpStatusClass;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The HTTP/1.1 codec of an upstream connection: Netty's request encoder and response decoder, paired as in Netty's
 * {@code HttpClientCodec} (the response to a {@code HEAD} has no body whatever its framing fields say), with the
 * request's header fields written by {@link HeadEncoding} (the same bytes, one bulk write into the buffer).
 *
 * <p>Torii never sends {@code CONNECT} upstream ({@code RequestChecks} refuses it), so the CONNECT pass-through of
 * Netty's client codec is not kept; a {@code 101} switches the decoder to pass-through as in Netty's decoder, and the
 * tunnel removes this codec.
 *
 * <p>Not thread-safe: one per connection, on its event loop.
 */
public final class UpstreamCodec extends CombinedChannelDuplexHandler<UpstreamCodec.Decoder, UpstreamCodec.Encoder> {
    /** The methods of the requests sent and not answered yet, oldest first. */
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(2);

    public UpstreamCodec(HttpDecoderConfig config) {
        init(new Decoder(config), new Encoder());
    }

    /** Request encoder: remembers each request's method for the decoder. */
    final class Encoder extends HttpRequestEncoder {
        @Override
        protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
            if (msg instanceof HttpRequest request) {
                methods.offer(request.method());
            }
            super.encode(ctx, msg, out);
        }

        /** The same bytes as Netty's; an origin-form ASCII target with one bulk write ({@link HeadEncoding}). */
        @Override
        protected void encodeInitialLine(ByteBuf buf, HttpRequest request) throws Exception {
            if (!HeadEncoding.writeRequestLine(request, buf)) {
                super.encodeInitialLine(buf, request);
            }
        }

        /** The same bytes as Netty's, with one bulk write into the buffer ({@link HeadEncoding}). */
        @Override
        protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
            HeadEncoding.writeHeaders(headers, buf);
        }
    }

    /** Response decoder: a response to {@code HEAD} has no body. */
    final class Decoder extends HttpResponseDecoder {
        Decoder(HttpDecoderConfig config) {
            super(config);
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpMessage msg) {
            if (((HttpResponse) msg).status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                // A 1xx answers no request on its own: the final response that follows takes the method.
                return super.isContentAlwaysEmpty(msg);
            }
            HttpMethod method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }
    }
}
