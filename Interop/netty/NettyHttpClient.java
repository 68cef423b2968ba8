// A SPDY/3.1 client on Netty's own HTTP mapping: SpdyHttpEncoder turns FullHttpRequests into
// SYN_STREAM and DATA, SpdyHttpDecoder turns the replies into FullHttpResponses, over
// SpdySessionHandler (flow control) and SpdyFrameCodec. Runs against a server speaking SPDY/3.1
// on plain TCP and exits 0 when every check passed.
//
// The Hummingbird example app (Integrations/HummingbirdSPDY), routes it expects:
//   GET  /hello        200 "Hello from Hummingbird!\n" (text)
//   HEAD /hello        200, no body
//   POST /echo         200, the request body back (streamed through the app)
//   GET  /chunks?count=10&size=8
//                      200, the body the app writes in ten pieces ("chunk 0\n" ... "chunk 9\n")
//   GET  /error        the HTTPError the route throws (418)
//   GET  /no-such-path 404
//
// With "nginx": spdyproxy in front of the nginx of Interop/run.sh, whose htdocs and locations
// it expects (56 requests in all):
//   GET  /small.txt    200 "hello from nginx\n", server: nginx/..., via: 1.1 spdyproxy
//   HEAD /small.txt    200, no body
//   GET  /big.bin      200, BIG_SIZE bytes whose SHA-256 is BIG_SHA256
//   GET  /headers      200, the x-forwarded-for, x-forwarded-proto and via nginx received
//   POST /echo         200, the request body back (nginx's echo module)
//   GET  /no-such-file 404 from nginx
//
// Usage: java NettyHttpClient PORT
//        java NettyHttpClient PORT nginx BIG_SIZE BIG_SHA256

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyHttpDecoder;
import io.netty.handler.codec.spdy.SpdyHttpEncoder;
import io.netty.handler.codec.spdy.SpdyHttpHeaders;
import io.netty.handler.codec.spdy.SpdySessionHandler;
import io.netty.handler.codec.spdy.SpdyVersion;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

public final class NettyHttpClient {
    static final Common.Checks checks = new Common.Checks("netty-http-client");

    /** A response as the test keeps it: SpdyHttpDecoder's FullHttpResponse, copied. */
    static final class Reply {
        final int status;
        final Map<String, String> headers = new ConcurrentHashMap<>();
        final byte[] body;

        Reply(FullHttpResponse response) {
            status = response.status().code();
            for (Map.Entry<String, String> entry : response.headers()) {
                headers.put(entry.getKey().toLowerCase(), entry.getValue());
            }
            body = ByteBufUtil.getBytes(response.content());
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    static final Map<Integer, CompletableFuture<Reply>> pending = new ConcurrentHashMap<>();
    static final AtomicInteger nextStreamID = new AtomicInteger(1);

    static final class Handler extends SimpleChannelInboundHandler<FullHttpResponse> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
            int id = response.headers().getInt(SpdyHttpHeaders.Names.STREAM_ID, -1);
            CompletableFuture<Reply> future = pending.remove(id);
            if (future != null) future.complete(new Reply(response));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            for (CompletableFuture<Reply> future : pending.values()) future.completeExceptionally(cause);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            for (CompletableFuture<Reply> future : pending.values()) {
                future.completeExceptionally(new IllegalStateException("connection closed"));
            }
            ctx.fireChannelInactive();
        }
    }

    static CompletableFuture<Reply> send(Channel channel, HttpMethod method, String path, byte[] body) {
        int id = nextStreamID.getAndAdd(2);
        FullHttpRequest request = new DefaultFullHttpRequest(
                HttpVersion.HTTP_1_1, method, path, body == null ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
        request.headers().set(HttpHeaderNames.HOST, "127.0.0.1");
        request.headers().set(SpdyHttpHeaders.Names.STREAM_ID, id);
        request.headers().set(SpdyHttpHeaders.Names.SCHEME, "http");
        if (body != null) request.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        CompletableFuture<Reply> future = new CompletableFuture<>();
        pending.put(id, future);
        channel.writeAndFlush(request).addListener(f -> {
            if (!f.isSuccess()) future.completeExceptionally(f.cause());
        });
        return future;
    }

    static Reply get(CompletableFuture<Reply> future, String what) {
        try {
            return future.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            checks.check(false, what, "no response: " + e);
            return null;
        }
    }

    /** The Hummingbird example app. */
    static void hummingbird(Channel channel) {
        Reply hello = get(send(channel, HttpMethod.GET, "/hello", null), "GET /hello");
        if (hello != null) {
            checks.check(hello.status == 200 && hello.text().equals("Hello from Hummingbird!\n"), "GET /hello",
                    hello.status + " " + hello.text());
            checks.check(hello.headers.containsKey("content-type"), "GET /hello has content-type",
                    hello.headers.toString());
        }

        // SpdyHttpDecoder sets content-length to the bytes it aggregated (0 for a reply with
        // FIN), so only the missing body can be checked here; the codec tests check that the
        // server's content-length is kept.
        Reply head = get(send(channel, HttpMethod.HEAD, "/hello", null), "HEAD /hello");
        if (head != null) {
            checks.check(head.status == 200 && head.body.length == 0, "HEAD /hello has no body",
                    head.status + " " + head.body.length + " bytes");
        }

        byte[] upload = Common.body(3 << 20, 7);
        Reply echo = get(send(channel, HttpMethod.POST, "/echo", upload), "POST /echo");
        if (echo != null) {
            checks.check(echo.status == 200 && Arrays.equals(echo.body, upload), "POST /echo, 3 MiB back",
                    echo.status + " " + echo.body.length + " bytes, first mismatch at "
                            + Common.firstMismatch(echo.body, 7));
        }

        Reply chunks = get(send(channel, HttpMethod.GET, "/chunks?count=10&size=8", null), "GET /chunks");
        if (chunks != null) {
            StringBuilder expected = new StringBuilder();
            for (int i = 0; i < 10; i++) expected.append("chunk ").append(i).append('\n');
            checks.check(chunks.status == 200 && chunks.text().equals(expected.toString()),
                    "GET /chunks, in order and whole", chunks.status + " " + chunks.text());
        }

        Reply error = get(send(channel, HttpMethod.GET, "/error", null), "GET /error");
        if (error != null) checks.check(error.status == 418, "GET /error gives the thrown 418", "" + error.status);

        Reply missing = get(send(channel, HttpMethod.GET, "/no-such-path", null), "GET /no-such-path");
        if (missing != null) checks.check(missing.status == 404, "GET /no-such-path is 404", "" + missing.status);

        List<CompletableFuture<Reply>> concurrent = new ArrayList<>();
        for (int i = 0; i < 50; i++) concurrent.add(send(channel, HttpMethod.GET, "/hello", null));
        int good = 0;
        for (CompletableFuture<Reply> future : concurrent) {
            Reply reply = get(future, "50 concurrent streams");
            if (reply != null && reply.status == 200 && reply.text().equals("Hello from Hummingbird!\n")) good++;
        }
        checks.check(good == 50, "50 concurrent streams on one connection", good + " of 50 good");
    }

    /** nginx behind spdyproxy (Interop/run.sh). */
    static void nginxBehindProxy(Channel channel, int bigSize, String bigSHA256) throws Exception {
        Reply small = get(send(channel, HttpMethod.GET, "/small.txt", null), "GET /small.txt");
        if (small != null) {
            checks.check(small.status == 200 && small.text().equals("hello from nginx\n"), "GET /small.txt",
                    small.status + " " + small.text());
            checks.check(small.headers.getOrDefault("server", "").startsWith("nginx/"),
                    "GET /small.txt has nginx's server header", small.headers.toString());
            checks.check(small.headers.getOrDefault("via", "").equals("1.1 spdyproxy"),
                    "GET /small.txt has via: 1.1 spdyproxy", small.headers.toString());
        }

        Reply head = get(send(channel, HttpMethod.HEAD, "/small.txt", null), "HEAD /small.txt");
        if (head != null) {
            checks.check(head.status == 200 && head.body.length == 0, "HEAD /small.txt has no body",
                    head.status + " " + head.body.length + " bytes");
        }

        Reply big = get(send(channel, HttpMethod.GET, "/big.bin", null), "GET /big.bin");
        if (big != null) {
            String digest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(big.body));
            checks.check(big.status == 200 && big.body.length == bigSize && digest.equals(bigSHA256),
                    "GET /big.bin, " + bigSize + " bytes, SHA-256 as written",
                    big.status + " " + big.body.length + " bytes, SHA-256 " + digest);
        }

        Reply headers = get(send(channel, HttpMethod.GET, "/headers", null), "GET /headers");
        if (headers != null) {
            String text = headers.text();
            checks.check(headers.status == 200 && text.contains("x-forwarded-for=127.0.0.1\n")
                    && text.contains("x-forwarded-proto=http\n") && text.contains("via=SPDY/3.1 spdyproxy\n"),
                    "nginx received x-forwarded-for, x-forwarded-proto and via", headers.status + " " + text);
        }

        byte[] upload = Common.body(3 << 20, 11);
        Reply echo = get(send(channel, HttpMethod.POST, "/echo", upload), "POST /echo");
        if (echo != null) {
            checks.check(echo.status == 200 && Arrays.equals(echo.body, upload), "POST /echo, 3 MiB back",
                    echo.status + " " + echo.body.length + " bytes, first mismatch at "
                            + Common.firstMismatch(echo.body, 11));
        }

        Reply missing = get(send(channel, HttpMethod.GET, "/no-such-file", null), "GET /no-such-file");
        if (missing != null) {
            checks.check(missing.status == 404 && missing.headers.getOrDefault("server", "").startsWith("nginx/"),
                    "GET /no-such-file is nginx's 404", missing.status + " " + missing.headers);
        }

        List<CompletableFuture<Reply>> concurrent = new ArrayList<>();
        for (int i = 0; i < 50; i++) concurrent.add(send(channel, HttpMethod.GET, "/small.txt", null));
        int good = 0;
        for (CompletableFuture<Reply> future : concurrent) {
            Reply reply = get(future, "50 concurrent streams");
            if (reply != null && reply.status == 200 && reply.text().equals("hello from nginx\n")) good++;
        }
        checks.check(good == 50, "50 concurrent streams through the proxy", good + " of 50 good");
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        boolean nginx = args.length > 1 && args[1].equals("nginx");
        if (nginx && args.length != 4) {
            System.err.println("usage: NettyHttpClient PORT [nginx BIG_SIZE BIG_SHA256]");
            System.exit(2);
        }
        EventLoopGroup group = new NioEventLoopGroup(1);
        try {
            Channel channel = new Bootstrap()
                    .group(group)
                    .channel(NioSocketChannel.class)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
                            ch.pipeline().addLast(new SpdySessionHandler(SpdyVersion.SPDY_3_1, false));
                            ch.pipeline().addLast(new SpdyHttpEncoder(SpdyVersion.SPDY_3_1));
                            ch.pipeline().addLast(new SpdyHttpDecoder(SpdyVersion.SPDY_3_1, 64 << 20));
                            ch.pipeline().addLast(new Handler());
                        }
                    })
                    .connect("127.0.0.1", port)
                    .sync()
                    .channel();

            if (nginx) {
                nginxBehindProxy(channel, Integer.parseInt(args[2]), args[3]);
            } else {
                hummingbird(channel);
            }

            channel.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
        checks.finish();
    }
}
