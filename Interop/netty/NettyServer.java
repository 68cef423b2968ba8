// A SPDY/3.1 server on Netty's SPDY codec (SpdyFrameCodec + SpdySessionHandler, which does
// the stream and session flow control). Serves one connection, then prints its checks and
// exits 0 when all passed. Routes as the Swift driver's server: GET /bytes/N?seed=S,
// POST /echo, GET /rst, GET /ping.
//
// Usage: java NettyServer   (prints "PORT p" once listening on 127.0.0.1)

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.DefaultSpdyRstStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHeaders;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySessionHandler;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdyStreamStatus;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

public final class NettyServer {
    static final Common.Checks checks = new Common.Checks("netty-server");
    static final Common.FrameCounter counter = new Common.FrameCounter();
    static final CountDownLatch done = new CountDownLatch(1);

    static final class Request {
        SpdyHeaders headers;
        ByteArrayOutputStream body = new ByteArrayOutputStream();
    }

    static final class Handler extends ChannelInboundHandlerAdapter {
        final Map<Integer, Request> requests = new HashMap<>();
        final Map<Integer, Integer> pingStreams = new HashMap<>();
        int nextPingId = 2;
        int open, maxOpen, answered, echoesOk, pingReplies;
        boolean goAwayReceived;
        final List<String> problems = new ArrayList<>();
        final List<String> errors = new ArrayList<>();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            SpdySettingsFrame settings = new DefaultSpdySettingsFrame();
            settings.setValue(SpdySettingsFrame.SETTINGS_MAX_CONCURRENT_STREAMS, 100);
            ctx.writeAndFlush(settings);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof SpdySynStreamFrame) {
                SpdySynStreamFrame syn = (SpdySynStreamFrame) msg;
                Request request = new Request();
                request.headers = syn.headers();
                requests.put(syn.streamId(), request);
                open++;
                maxOpen = Math.max(maxOpen, open);
                if (syn.isLast()) respond(ctx, syn.streamId(), request);
            } else if (msg instanceof SpdyDataFrame) {
                SpdyDataFrame data = (SpdyDataFrame) msg;
                Request request = requests.get(data.streamId());
                if (request != null) {
                    ByteBuf content = data.content();
                    byte[] bytes = new byte[content.readableBytes()];
                    content.readBytes(bytes);
                    request.body.write(bytes, 0, bytes.length);
                    if (data.isLast()) respond(ctx, data.streamId(), request);
                } else {
                    problems.add("DATA on unknown stream " + data.streamId());
                }
                data.release();
            } else if (msg instanceof SpdyPingFrame) {
                // SpdySessionHandler answers the client's pings itself and passes ours up.
                int id = ((SpdyPingFrame) msg).id();
                pingReplies++;
                Integer stream = pingStreams.remove(id);
                if (stream != null) {
                    reply(ctx, stream, "200 OK", Map.of("x-ping-id", String.valueOf(id)), ("pong " + id + "\n").getBytes());
                }
            } else if (msg instanceof SpdyGoAwayFrame) {
                goAwayReceived = true;
            } else if (msg instanceof SpdyRstStreamFrame) {
                problems.add("RST_STREAM received: " + msg);
            } else if (msg instanceof SpdyHeadersFrame) {
                SpdyHeadersFrame more = (SpdyHeadersFrame) msg;
                Request request = requests.get(more.streamId());
                if (request != null) request.headers.add(more.headers());
                if (more.isLast() && request != null) respond(ctx, more.streamId(), request);
            }
        }

        void respond(ChannelHandlerContext ctx, int streamId, Request request) {
            String method = request.headers.getAsString(":method");
            String pathAndQuery = request.headers.getAsString(":path");
            String path = pathAndQuery;
            int seed = 0;
            int q = pathAndQuery.indexOf('?');
            if (q >= 0) {
                path = pathAndQuery.substring(0, q);
                for (String pair : pathAndQuery.substring(q + 1).split("&")) {
                    if (pair.startsWith("seed=")) seed = Integer.parseInt(pair.substring(5));
                }
            }
            if ("GET".equals(method) && path.startsWith("/bytes/")) {
                int size = Integer.parseInt(path.substring("/bytes/".length()));
                reply(ctx, streamId, "200 OK",
                        Map.of("content-length", String.valueOf(size), "x-seed", String.valueOf(seed),
                                "content-type", "application/octet-stream"),
                        Common.body(size, seed));
            } else if ("POST".equals(method) && path.equals("/echo")) {
                byte[] body = request.body.toByteArray();
                Map<String, String> headers = new HashMap<>();
                headers.put("x-request-size", String.valueOf(body.length));
                headers.put("content-type", "application/octet-stream");
                String echo = request.headers.getAsString("x-test");
                if (echo != null) headers.put("x-echo", echo);
                String seedHeader = request.headers.getAsString("x-seed");
                if (seedHeader != null) {
                    int mismatch = Common.firstMismatch(body, Integer.parseInt(seedHeader));
                    headers.put("x-pattern", mismatch < 0 ? "ok" : "bad at " + mismatch);
                    if (mismatch < 0) {
                        echoesOk++;
                    } else {
                        problems.add("stream " + streamId + ": upload differs at byte " + mismatch);
                    }
                }
                reply(ctx, streamId, "200 OK", headers, body);
            } else if ("GET".equals(method) && path.equals("/rst")) {
                finished(streamId, ctx.writeAndFlush(new DefaultSpdyRstStreamFrame(streamId, SpdyStreamStatus.CANCEL)));
            } else if ("GET".equals(method) && path.equals("/ping")) {
                int id = nextPingId;
                nextPingId += 2;
                pingStreams.put(id, streamId);
                ctx.writeAndFlush(new DefaultSpdyPingFrame(id));
            } else {
                reply(ctx, streamId, "404 Not Found", Map.of(), "not found\n".getBytes());
            }
        }

        void reply(ChannelHandlerContext ctx, int streamId, String status, Map<String, String> headers, byte[] body) {
            SpdySynReplyFrame reply = new DefaultSpdySynReplyFrame(streamId);
            reply.headers().set(":status", status);
            reply.headers().set(":version", "HTTP/1.1");
            for (Map.Entry<String, String> header : headers.entrySet()) {
                reply.headers().set(header.getKey(), header.getValue());
            }
            reply.setLast(body.length == 0);
            ChannelFuture last = ctx.write(reply);
            int chunk = 16 * 1024;
            for (int offset = 0; offset < body.length; offset += chunk) {
                int length = Math.min(chunk, body.length - offset);
                SpdyDataFrame data = new DefaultSpdyDataFrame(streamId, Unpooled.wrappedBuffer(body, offset, length));
                data.setLast(offset + length == body.length);
                last = ctx.write(data);
            }
            ctx.flush();
            answered++;
            finished(streamId, last);
        }

        /** The stream counts as open until its last frame is written (SpdySessionHandler holds
         * DATA back while the client's window is closed). */
        void finished(int streamId, ChannelFuture last) {
            requests.remove(streamId);
            last.addListener(future -> open--);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            errors.add(cause.toString());
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            System.out.println("netty-server: connection closed: " + counter.summary() + " max_open=" + maxOpen
                    + " answered=" + answered);
            checks.check(errors.isEmpty(), "no exception in the pipeline", String.join("; ", errors));
            checks.check(problems.isEmpty(), "no protocol problem", String.join("; ", problems));
            checks.check(echoesOk == 50, "50 uploads of 256 KiB received intact", echoesOk + " intact");
            checks.check(answered >= 101, "every request answered", answered + " answered");
            checks.check(maxOpen >= 100, "100 streams open at once", "max " + maxOpen);
            checks.check(counter.wuOutStreams.get() > 0, "WINDOW_UPDATE sent on streams", counter.summary());
            checks.check(counter.wuOutSession.get() > 0, "WINDOW_UPDATE sent on the session (stream 0)", counter.summary());
            checks.check(counter.wuInStreams.get() > 0, "WINDOW_UPDATE received on streams", counter.summary());
            checks.check(counter.wuInSession.get() > 0, "WINDOW_UPDATE received on the session (stream 0)", counter.summary());
            checks.check(counter.pingsIn.get() > pingReplies, "client's PING received", counter.summary());
            checks.check(pingReplies > 0 && pingStreams.isEmpty(), "our PING answered", pingReplies + " replies");
            checks.check(goAwayReceived, "GOAWAY received before the connection closed", "");
            done.countDown();
        }
    }

    public static void main(String[] args) throws Exception {
        EventLoopGroup group = new NioEventLoopGroup(1);
        try {
            ServerBootstrap bootstrap = new ServerBootstrap()
                    .group(group)
                    .channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel channel) {
                            channel.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
                            channel.pipeline().addLast(counter);
                            channel.pipeline().addLast(new SpdySessionHandler(SpdyVersion.SPDY_3_1, true));
                            channel.pipeline().addLast(new Handler());
                        }
                    });
            Channel server = bootstrap.bind("127.0.0.1", 0).sync().channel();
            System.out.println("PORT " + ((java.net.InetSocketAddress) server.localAddress()).getPort());
            System.out.flush();
            done.await();
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
        }
        checks.finish();
    }
}
