// A SPDY/3.1 server on Netty's whole SPDY stack, as Netty applications build it (Netty 4.1's
// example/spdy/server SpdyOrHttpHandler, 4.0's SpdyOrHttpChooser): SpdyFrameCodec ->
// SpdySessionHandler (stream and session flow control) -> SpdyHttpEncoder -> SpdyHttpDecoder
// (max content 1 MiB) -> SpdyHttpResponseStreamIdHandler -> an HTTP handler that gets
// FullHttpRequests. For spdyspec (scripts/spdyspec-peers.sh): unlike
// Benchmarks/netty/NettySpdyFileServer (frames only), the HTTP layer is Netty's, so requests
// without :method, :path, ... get the decoder's 400, and a request ended by HEADERS with FIN is
// answered. Plain TCP, any number of connections, SETTINGS MAX_CONCURRENT_STREAMS 100 at the
// start of each. Routes: GET /big (query ignored) 200 with 200 000 bytes; anything else 200
// "hello from netty\n". Request bodies are accepted and dropped. The stream ID goes back on the
// response through SpdyHttpResponseStreamIdHandler (a FIFO of the requests' x-spdy-stream-id,
// so the handler answers each request at once, in order). Exceptions (as the decoder's
// TooLongFrameException) are printed, the connection is left open.
//
// Usage: java NettySpdyHttpServer   (prints "PORT p" once listening on 127.0.0.1; runs until
// killed)

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.spdy.DefaultSpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyHttpDecoder;
import io.netty.handler.codec.spdy.SpdyHttpEncoder;
import io.netty.handler.codec.spdy.SpdyHttpResponseStreamIdHandler;
import io.netty.handler.codec.spdy.SpdySessionHandler;
import io.netty.handler.codec.spdy.SpdySettingsFrame;
import io.netty.handler.codec.spdy.SpdyVersion;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

public final class NettySpdyHttpServer {
    static final SpdyVersion version = SpdyVersion.SPDY_3_1;
    static final int maxContentLength = 1024 * 1024;
    static final byte[] small = "hello from netty\n".getBytes(StandardCharsets.US_ASCII);
    static final byte[] big = new byte[200000];

    static {
        Arrays.fill(big, (byte) 'a');
    }

    static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            SpdySettingsFrame settings = new DefaultSpdySettingsFrame();
            settings.setValue(SpdySettingsFrame.SETTINGS_MAX_CONCURRENT_STREAMS, 100);
            ctx.writeAndFlush(settings);
            super.channelActive(ctx);
        }

        // SimpleChannelInboundHandler releases the request (and so its body) afterwards.
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            String uri = request.uri();
            int query = uri.indexOf('?');
            String path = query < 0 ? uri : uri.substring(0, query);
            boolean isBig = HttpMethod.GET.equals(request.method()) && path.equals("/big");
            ByteBuf body = Unpooled.wrappedBuffer(isBig ? big : small);
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, isBig ? "application/octet-stream" : "text/plain");
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
            response.headers().set(HttpHeaderNames.SERVER, "netty-spdy-http");
            // No x-spdy-stream-id set here: SpdyHttpResponseStreamIdHandler adds the request's.
            ctx.write(response);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            System.err.println("exception on " + ctx.channel().remoteAddress() + ": " + cause);
        }
    }

    public static void main(String[] args) throws Exception {
        EventLoopGroup group = new NioEventLoopGroup();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        ChannelPipeline p = channel.pipeline();
                        p.addLast(new SpdyFrameCodec(version));
                        p.addLast(new SpdySessionHandler(version, true));
                        p.addLast(new SpdyHttpEncoder(version));
                        p.addLast(new SpdyHttpDecoder(version, maxContentLength));
                        p.addLast(new SpdyHttpResponseStreamIdHandler());
                        p.addLast(new Handler());
                    }
                });
        Channel server = bootstrap.bind("127.0.0.1", 0).sync().channel();
        System.out.println("PORT " + ((InetSocketAddress) server.localAddress()).getPort());
        System.out.flush();
        server.closeFuture().sync();
        group.shutdownGracefully();
    }
}
