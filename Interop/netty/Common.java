// Shared pieces of the Netty peers of the interop suite (Interop/run.sh).

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.spdy.SpdyFrame;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyWindowUpdateFrame;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

final class Common {
    private Common() {}

    /** Byte i of a body with seed s: (i + s) % 251, the suite's pattern. */
    static byte pattern(int index, int seed) {
        return (byte) ((index + seed) % 251);
    }

    static byte[] body(int size, int seed) {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) bytes[i] = pattern(i, seed);
        return bytes;
    }

    /** The first offset that breaks the pattern, or -1. */
    static int firstMismatch(byte[] bytes, int seed) {
        for (int i = 0; i < bytes.length; i++) if (bytes[i] != pattern(i, seed)) return i;
        return -1;
    }

    /**
     * Sits between SpdyFrameCodec and SpdySessionHandler, so it sees every frame on the wire in
     * both directions, including the WINDOW_UPDATE and PING frames SpdySessionHandler sends
     * and consumes itself.
     */
    static final class FrameCounter extends ChannelDuplexHandler {
        final AtomicInteger wuInSession = new AtomicInteger();
        final AtomicInteger wuInStreams = new AtomicInteger();
        final AtomicInteger wuOutSession = new AtomicInteger();
        final AtomicInteger wuOutStreams = new AtomicInteger();
        final AtomicInteger pingsIn = new AtomicInteger();
        final AtomicInteger pingsOut = new AtomicInteger();
        final AtomicInteger rstIn = new AtomicInteger();
        final AtomicInteger rstOut = new AtomicInteger();
        final AtomicInteger goAwayIn = new AtomicInteger();
        final AtomicInteger goAwayOut = new AtomicInteger();
        final AtomicInteger synStreamsIn = new AtomicInteger();
        final List<String> rstDetails = new ArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            if (msg instanceof SpdyWindowUpdateFrame) {
                (((SpdyWindowUpdateFrame) msg).streamId() == 0 ? wuInSession : wuInStreams).incrementAndGet();
            } else if (msg instanceof SpdyPingFrame) {
                pingsIn.incrementAndGet();
            } else if (msg instanceof SpdyRstStreamFrame) {
                rstIn.incrementAndGet();
                synchronized (rstDetails) {
                    rstDetails.add("in " + msg);
                }
            } else if (msg instanceof SpdyGoAwayFrame) {
                goAwayIn.incrementAndGet();
            } else if (msg instanceof SpdySynStreamFrame) {
                synStreamsIn.incrementAndGet();
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            if (msg instanceof SpdyWindowUpdateFrame) {
                (((SpdyWindowUpdateFrame) msg).streamId() == 0 ? wuOutSession : wuOutStreams).incrementAndGet();
            } else if (msg instanceof SpdyPingFrame) {
                pingsOut.incrementAndGet();
            } else if (msg instanceof SpdyRstStreamFrame) {
                rstOut.incrementAndGet();
                synchronized (rstDetails) {
                    rstDetails.add("out " + msg);
                }
            } else if (msg instanceof SpdyGoAwayFrame) {
                goAwayOut.incrementAndGet();
            }
            ctx.write(msg, promise);
        }

        String summary() {
            return "wu_sent(session=" + wuOutSession + " streams=" + wuOutStreams + ") wu_received(session="
                    + wuInSession + " streams=" + wuInStreams + ") pings_in=" + pingsIn + " pings_out=" + pingsOut
                    + " rst_in=" + rstIn + " rst_out=" + rstOut + " goaway_in=" + goAwayIn + " goaway_out="
                    + goAwayOut;
        }
    }

    /** One line per check; exit status 1 when one failed. */
    static final class Checks {
        private final String prefix;
        private final List<String> failures = new ArrayList<>();
        private int passes;

        Checks(String prefix) {
            this.prefix = prefix;
        }

        synchronized void check(boolean ok, String what, String detail) {
            if (ok) {
                passes++;
                System.out.println(prefix + ": ok   " + what);
            } else {
                String text = detail == null || detail.isEmpty() ? what : what + ": " + detail;
                failures.add(text);
                System.out.println(prefix + ": FAIL " + text);
            }
            System.out.flush();
        }

        synchronized void finish() {
            if (failures.isEmpty()) {
                System.out.println(prefix + ": all " + passes + " checks passed");
                System.out.flush();
                System.exit(0);
            }
            System.out.println(prefix + ": " + failures.size() + " of " + (failures.size() + passes)
                    + " checks failed: " + String.join("; ", failures));
            System.out.flush();
            System.exit(1);
        }
    }

    static void log(SpdyFrame frame) {
        if (System.getenv("INTEROP_DEBUG") != null) System.err.println("frame: " + frame);
    }
}
