// A SPDY/3.1 server on Netty 4.1's SPDY codec (SpdyFrameCodec + SpdySessionHandler, which
// does the stream and session flow control), for side-by-side load tests against spdyd
// with spdyload. Plain TCP, every core, MAX_CONCURRENT_STREAMS 100. It serves the files
// of a folder from memory (read once at start): GET /NAME answers 200 with the bytes of
// ROOT/NAME in 16 KiB DATA frames (as spdyd does from disk), 404 otherwise.
//
// Build and run (Debian's libnetty-java, JDK 17):
//   jars=$(ls /usr/share/java/netty-{common,buffer,transport,codec,codec-http,handler,resolver}.jar | paste -sd:)
//   javac -d /tmp/netty-bench -cp "$jars" Benchmarks/netty/NettySpdyFileServer.java
//   java -cp "$jars:/tmp/netty-bench" NettySpdyFileServer PORT ROOT

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdySessionHandler;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import io.netty.util.ReferenceCountUtil;
import java.io.File;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;

public final class NettySpdyFileServer {
    static final Map<String, ByteBuf> files = new HashMap<>();
    static final int chunk = 16 * 1024;

    static final class Handler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            SpdySettingsFrame settings = new DefaultSpdySettingsFrame();
            settings.setValue(SpdySettingsFrame.SETTINGS_MAX_CONCURRENT_STREAMS, 100);
            ctx.writeAndFlush(settings);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof SpdySynStreamFrame) {
                    SpdySynStreamFrame syn = (SpdySynStreamFrame) msg;
                    if (syn.isLast()) respond(ctx, syn.streamId(), syn.headers().getAsString(":path"));
                } else if (msg instanceof SpdyDataFrame) {
                    SpdyDataFrame data = (SpdyDataFrame) msg;
                    if (data.isLast()) respond(ctx, data.streamId(), null);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        void respond(ChannelHandlerContext ctx, int streamId, String path) {
            String name = path == null ? "" : path.split("\\?")[0];
            ByteBuf body = files.get(name);
            SpdySynReplyFrame reply = new DefaultSpdySynReplyFrame(streamId);
            reply.headers().set(":version", "HTTP/1.1");
            if (body == null) {
                reply.headers().set(":status", "404 Not Found");
                reply.setLast(true);
                ctx.write(reply);
                return;
            }
            reply.headers().set(":status", "200 OK");
            reply.headers().set("content-length", String.valueOf(body.readableBytes()));
            reply.headers().set("content-type", "application/octet-stream");
            reply.headers().set("server", "netty-spdy");
            ctx.write(reply);
            int length = body.readableBytes();
            for (int offset = 0; offset < length; offset += chunk) {
                int n = Math.min(chunk, length - offset);
                SpdyDataFrame data = new DefaultSpdyDataFrame(streamId, body.retainedSlice(offset, n));
                data.setLast(offset + n == length);
                ctx.write(data);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        File root = new File(args[1]);
        for (File file : root.listFiles()) {
            if (file.isFile()) {
                files.put("/" + file.getName(), Unpooled.wrappedBuffer(Files.readAllBytes(file.toPath())));
            }
        }
        EventLoopGroup group = new NioEventLoopGroup(Runtime.getRuntime().availableProcessors());
        new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        channel.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
                        channel.pipeline().addLast(new SpdySessionHandler(SpdyVersion.SPDY_3_1, true));
                        channel.pipeline().addLast(new Handler());
                    }
                })
                .bind(port)
                .sync();
        System.out.println("listening on port " + port);
        System.out.flush();
        Thread.currentThread().join();
    }
}
