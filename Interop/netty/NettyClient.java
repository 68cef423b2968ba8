// A SPDY/3.1 client on Netty's SPDY codec (SpdyFrameCodec + SpdySessionHandler, which does
// the stream and session flow control). Runs the "netty" scenario against a server with the
// Swift driver's routes and exits 0 when every check passed:
// PING both ways (GET /ping makes the server ping us), 100 concurrent streams (50 uploads of
// 256 KiB echoed, 50 downloads of 1 MiB), RST_STREAM (GET /rst), then GOAWAY from us
// (closing the channel makes SpdySessionHandler send it).
//
// Usage: java NettyClient PORT

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdyPingFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySessionHandler;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

public final class NettyClient {
    static final Common.Checks checks = new Common.Checks("netty-client");
    static final Common.FrameCounter counter = new Common.FrameCounter();

    static final class Response {
        final Map<String, List<String>> headers = new ConcurrentHashMap<>();
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        String reset; // RST_STREAM status, if reset
        final CompletableFuture<Response> done = new CompletableFuture<>();

        String header(String name) {
            List<String> values = headers.get(name);
            return values == null || values.isEmpty() ? null : values.get(0);
        }
    }

    static final class Handler extends ChannelInboundHandlerAdapter {
        final Map<Integer, Response> responses = new ConcurrentHashMap<>();
        final Map<Integer, CompletableFuture<Void>> pings = new ConcurrentHashMap<>();
        final List<String> errors = new ArrayList<>();
        volatile boolean goAwayReceived;
        volatile int peerPings;

        void headers(Response response, SpdyHeadersFrame frame) {
            for (Map.Entry<String, String> entry : (Iterable<Map.Entry<String, String>>) () -> frame.headers().iteratorAsString()) {
                response.headers.computeIfAbsent(entry.getKey(), k -> new ArrayList<>()).add(entry.getValue());
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof SpdySynReplyFrame) {
                SpdySynReplyFrame reply = (SpdySynReplyFrame) msg;
                Response response = responses.get(reply.streamId());
                if (response != null) {
                    headers(response, reply);
                    if (reply.isLast()) response.done.complete(response);
                }
            } else if (msg instanceof SpdyHeadersFrame) {
                SpdyHeadersFrame more = (SpdyHeadersFrame) msg;
                Response response = responses.get(more.streamId());
                if (response != null) {
                    headers(response, more);
                    if (more.isLast()) response.done.complete(response);
                }
            } else if (msg instanceof SpdyDataFrame) {
                SpdyDataFrame data = (SpdyDataFrame) msg;
                Response response = responses.get(data.streamId());
                if (response != null) {
                    ByteBuf content = data.content();
                    byte[] bytes = new byte[content.readableBytes()];
                    content.readBytes(bytes);
                    synchronized (response) {
                        response.body.write(bytes, 0, bytes.length);
                    }
                    if (data.isLast()) response.done.complete(response);
                }
                data.release();
            } else if (msg instanceof SpdyRstStreamFrame) {
                SpdyRstStreamFrame rst = (SpdyRstStreamFrame) msg;
                Response response = responses.get(rst.streamId());
                if (response != null) {
                    response.reset = rst.status().toString();
                    response.done.complete(response);
                }
            } else if (msg instanceof SpdyPingFrame) {
                // Only replies to our pings get here; SpdySessionHandler answers the server's.
                CompletableFuture<Void> waiting = pings.remove(((SpdyPingFrame) msg).id());
                if (waiting != null) waiting.complete(null);
            } else if (msg instanceof SpdyGoAwayFrame) {
                goAwayReceived = true;
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            synchronized (errors) {
                errors.add(cause.toString());
            }
            ctx.close();
        }
    }

    static int nextStreamId = 1;

    static Response request(Channel channel, Handler handler, String method, String path, Map<String, String> headers,
            byte[] body) {
        int streamId = nextStreamId;
        nextStreamId += 2;
        Response response = new Response();
        handler.responses.put(streamId, response);
        SpdySynStreamFrame syn = new DefaultSpdySynStreamFrame(streamId, 0, (byte) 3);
        syn.headers().set(":method", method);
        syn.headers().set(":path", path);
        syn.headers().set(":version", "HTTP/1.1");
        syn.headers().set(":scheme", "http");
        syn.headers().set(":host", "127.0.0.1");
        for (Map.Entry<String, String> header : headers.entrySet()) syn.headers().set(header.getKey(), header.getValue());
        syn.setLast(body == null);
        channel.write(syn);
        if (body != null) {
            int chunk = 16 * 1024;
            for (int offset = 0; offset < body.length; offset += chunk) {
                int length = Math.min(chunk, body.length - offset);
                SpdyDataFrame data = new DefaultSpdyDataFrame(streamId, Unpooled.wrappedBuffer(body, offset, length));
                data.setLast(offset + length == body.length);
                channel.write(data);
            }
        }
        channel.flush();
        return response;
    }

    static void ping(Channel channel, Handler handler, int id) throws Exception {
        CompletableFuture<Void> reply = new CompletableFuture<>();
        handler.pings.put(id, reply);
        channel.writeAndFlush(new DefaultSpdyPingFrame(id));
        reply.get(30, TimeUnit.SECONDS);
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        EventLoopGroup group = new NioEventLoopGroup(1);
        Handler handler = new Handler();
        try {
            Channel channel = new Bootstrap()
                    .group(group)
                    .channel(NioSocketChannel.class)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel channel) {
                            channel.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
                            channel.pipeline().addLast(counter);
                            channel.pipeline().addLast(new SpdySessionHandler(SpdyVersion.SPDY_3_1, false));
                            channel.pipeline().addLast(handler);
                        }
                    })
                    .connect("127.0.0.1", port).sync().channel();
            SpdySettingsFrame settings = new DefaultSpdySettingsFrame();
            settings.setValue(SpdySettingsFrame.SETTINGS_MAX_CONCURRENT_STREAMS, 100);
            channel.writeAndFlush(settings);

            ping(channel, handler, 1);
            checks.check(true, "PING answered by the server", "");

            Response pong = request(channel, handler, "GET", "/ping", Map.of(), null).done.get(30, TimeUnit.SECONDS);
            checks.check("200 OK".equals(pong.header(":status")) && pong.header("x-ping-id") != null,
                    "server's PING answered (GET /ping)", String.valueOf(pong.headers));

            int upload = 256 * 1024;
            int download = 1024 * 1024;
            // The bodies are made first and the 100 requests written in one event-loop task, so
            // all 100 SYN_STREAMs leave before any response can complete.
            List<byte[]> bodies = new ArrayList<>();
            for (int i = 0; i < 100; i++) bodies.add(i % 2 == 0 ? Common.body(upload, i) : null);
            CompletableFuture<List<Response>> submitted = new CompletableFuture<>();
            channel.eventLoop().execute(() -> {
                List<Response> all = new ArrayList<>();
                for (int i = 0; i < 100; i++) {
                    if (i % 2 == 0) {
                        all.add(request(channel, handler, "POST", "/echo",
                                Map.of("x-test", "value-" + i, "x-seed", String.valueOf(i)), bodies.get(i)));
                    } else {
                        all.add(request(channel, handler, "GET", "/bytes/" + download + "?seed=" + i, Map.of(), null));
                    }
                }
                submitted.complete(all);
            });
            List<Response> responses = submitted.get(30, TimeUnit.SECONDS);
            List<String> problems = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                Response response = responses.get(i).done.get(60, TimeUnit.SECONDS);
                byte[] body;
                synchronized (response) {
                    body = response.body.toByteArray();
                }
                int size = i % 2 == 0 ? upload : download;
                int mismatch = Common.firstMismatch(body, i);
                if (response.reset != null) {
                    problems.add("stream " + i + " reset " + response.reset);
                } else if (!"200 OK".equals(response.header(":status"))) {
                    problems.add("stream " + i + " :status " + response.header(":status"));
                } else if (body.length != size || mismatch >= 0) {
                    problems.add("stream " + i + ": " + body.length + " of " + size + " bytes, first wrong byte " + mismatch);
                } else if (i % 2 == 0 && !(String.valueOf(upload).equals(response.header("x-request-size"))
                        && ("value-" + i).equals(response.header("x-echo")) && "ok".equals(response.header("x-pattern")))) {
                    problems.add("stream " + i + " headers " + response.headers);
                } else if (i % 2 == 1 && !String.valueOf(download).equals(response.header("content-length"))) {
                    problems.add("stream " + i + " content-length " + response.header("content-length"));
                }
            }
            checks.check(problems.isEmpty(),
                    "100 concurrent streams: 50 x 256 KiB echoed, 50 x 1 MiB downloaded, bytes and headers",
                    String.join("; ", problems.subList(0, Math.min(5, problems.size()))));

            Response rst = request(channel, handler, "GET", "/rst", Map.of(), null).done.get(30, TimeUnit.SECONDS);
            checks.check(rst.reset != null && rst.reset.contains("CANCEL"), "RST_STREAM CANCEL received",
                    String.valueOf(rst.reset));

            ping(channel, handler, 3);
            checks.check(true, "second PING answered", "");

            // GOAWAY: SpdySessionHandler sends it when the channel is closed, then closes.
            channel.close();
            boolean closed = channel.closeFuture().await(30, TimeUnit.SECONDS);
            System.out.println("netty-client: " + counter.summary());
            checks.check(closed, "connection closed after our GOAWAY", "");
            checks.check(counter.goAwayOut.get() == 1, "GOAWAY sent", counter.summary());
            checks.check(handler.errors.isEmpty(), "no exception in the pipeline", String.join("; ", handler.errors));
            checks.check(counter.rstIn.get() == 1 && counter.rstOut.get() == 0, "no RST_STREAM but the /rst one",
                    String.join("; ", counter.rstDetails));
            checks.check(counter.wuOutStreams.get() > 0, "WINDOW_UPDATE sent on streams", counter.summary());
            checks.check(counter.wuOutSession.get() > 0, "WINDOW_UPDATE sent on the session (stream 0)", counter.summary());
            checks.check(counter.wuInStreams.get() > 0, "WINDOW_UPDATE received on streams", counter.summary());
            checks.check(counter.wuInSession.get() > 0, "WINDOW_UPDATE received on the session (stream 0)", counter.summary());
            checks.check(counter.pingsIn.get() >= 3, "server's PING received (and both our PINGs answered)", counter.summary());
        } catch (Exception error) {
            checks.check(false, "scenario completed", error.toString());
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
        checks.finish();
    }
}
