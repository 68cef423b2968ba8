#!/usr/bin/env python3
"""A raw SPDY/3.1 client for the reliability scripts: peers that misbehave on purpose.

Speaks SPDY/3.1 over plain TCP (spdyd --no-tls --spdy3-1) or over TLS with ALPN spdy/3.1
(--tls), with header blocks compressed with the SPDY/3 zlib dictionary (read from
Sources/SPDY/HeaderDictionaries.swift, or from --dict FILE).

Modes:
  partial        send the first --bytes bytes (default 5) of a SETTINGS frame, then vanish
  partial-syn    build a SYN_STREAM whose header block carries a random header of --length
                 characters (default 16000; ~8 KB compressed), send its frame header and only the
                 first --bytes of its payload (default 100), then vanish
  download PATH  GET PATH on --streams streams (default 1), open the stream and session windows
                 wide, read until --read bytes of DATA arrived (default 1 MiB, over all streams),
                 then vanish while the server is still sending
  hang PATH      GET PATH (e.g. with ?spdyd_do_not_respond_to_req=yes) on --streams streams, then
                 vanish
  ping           send a PING every --interval seconds (default 0.2) for --duration seconds
                 (default 5) and check every one is answered within --ping-timeout (default 5)

"Vanish" is --close: rst (default: SO_LINGER {1, 0}, so the kernel sends a TCP RST and
nothing else), fin (a plain close) or goaway (GOAWAY, then a plain close). Before vanishing
the client prints "READY ..." and waits until the file --until exists (or --hold seconds
passed, default 0), so that a script can look at the server while the peer is still there.

Prints one JSON object on the last line (what was sent, received, measured) and exits 0 if
the exchange went as expected (1 if not, 2 for a usage error).
"""
import argparse
import json
import os
import re
import socket
import ssl
import struct
import sys
import time
import zlib

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
CANCEL = 5
TYPE_NAMES = {1: "SYN_STREAM", 2: "SYN_REPLY", 3: "RST_STREAM", 4: "SETTINGS", 6: "PING", 7: "GOAWAY",
              8: "HEADERS", 9: "WINDOW_UPDATE"}


def load_dictionary(path):
    if path:
        with open(path, "rb") as f:
            data = f.read()
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        source = os.path.join(here, "..", "Sources", "SPDY", "HeaderDictionaries.swift")
        data = b""
        if os.path.exists(source):
            text = open(source, encoding="utf-8").read()
            start = text.index("= [", text.index("static let spdy3"))
            end = text.index("]", start)
            data = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-fA-F]{2})", text[start:end]))
        elif os.path.exists("/work/shared/reference/spdy3_dict.bin"):
            data = open("/work/shared/reference/spdy3_dict.bin", "rb").read()
    if len(data) != 1423 or zlib.adler32(data) != 0xE3C6A7C2:
        sys.exit("spdy-rawclient: no SPDY/3 dictionary (1423 bytes, Adler-32 0xe3c6a7c2); give --dict FILE")
    return data


def control(frame_type, flags, payload):
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


def header_block(pairs):
    out = struct.pack(">I", len(pairs))
    for name, value in pairs:
        name, value = name.encode(), value.encode()
        out += struct.pack(">I", len(name)) + name + struct.pack(">I", len(value)) + value
    return out


def parse_header_block(data):
    (count,) = struct.unpack_from(">I", data, 0)
    offset, headers = 4, {}
    for _ in range(count):
        (n,) = struct.unpack_from(">I", data, offset)
        name = data[offset + 4:offset + 4 + n].decode("latin-1")
        offset += 4 + n
        (n,) = struct.unpack_from(">I", data, offset)
        headers[name] = data[offset + 4:offset + 4 + n].decode("latin-1")
        offset += 4 + n
    return headers


class Session:
    def __init__(self, args, dictionary):
        self.args = args
        raw = socket.create_connection((args.host, args.port), timeout=args.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["spdy/3.1"])
            self.sock = context.wrap_socket(raw, server_hostname=args.host)
            if self.sock.selected_alpn_protocol() != "spdy/3.1":
                raise RuntimeError(f"ALPN selected {self.sock.selected_alpn_protocol()!r}, not spdy/3.1")
        else:
            self.sock = raw
        self.sock.settimeout(args.timeout)
        self.compressor = zlib.compressobj(zdict=dictionary)
        self.decompressor = zlib.decompressobj(zdict=dictionary)
        self.buffer = b""
        self.next_stream = 1
        self.stats = {"frames_received": {}, "data_bytes": 0, "status": {}, "resets_received": 0, "goaway": None}

    def send(self, data):
        self.sock.sendall(data)

    def syn_stream(self, path, fin=True, extra=()):
        stream = self.next_stream
        self.next_stream += 2
        scheme = "https" if self.args.tls else "http"
        block = header_block([(":method", "GET"), (":path", path), (":version", "HTTP/1.1"),
                              (":host", f"{self.args.host}:{self.args.port}"), (":scheme", scheme)] + list(extra))
        compressed = self.compressor.compress(block) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        payload = struct.pack(">IIBB", stream, 0, 3 << 5, 0) + compressed
        self.send(control(SYN_STREAM, FLAG_FIN if fin else 0, payload))
        return stream

    def window_update(self, stream, delta):
        self.send(control(WINDOW_UPDATE, 0, struct.pack(">II", stream, delta)))

    def read_frame(self):
        """One frame: (is_control, type_or_stream, flags, payload); None at the end of the input."""
        while True:
            if len(self.buffer) >= 8:
                first, second = struct.unpack_from(">II", self.buffer, 0)
                length = second & 0xFFFFFF
                if len(self.buffer) >= 8 + length:
                    payload = self.buffer[8:8 + length]
                    self.buffer = self.buffer[8 + length:]
                    flags = second >> 24
                    if first & 0x80000000:
                        frame_type = first & 0xFFFF
                        name = TYPE_NAMES.get(frame_type, str(frame_type))
                        self.stats["frames_received"][name] = self.stats["frames_received"].get(name, 0) + 1
                        self.on_control(frame_type, flags, payload)
                        return True, frame_type, flags, payload
                    self.stats["frames_received"]["DATA"] = self.stats["frames_received"].get("DATA", 0) + 1
                    self.stats["data_bytes"] += length
                    return False, first & 0x7FFFFFFF, flags, payload
            chunk = self.sock.recv(1 << 18)
            if not chunk:
                return None
            self.buffer += chunk

    def on_control(self, frame_type, flags, payload):
        if frame_type in (SYN_REPLY, HEADERS):
            (stream,) = struct.unpack_from(">I", payload, 0)
            headers = parse_header_block(self.decompressor.decompress(payload[4:]))
            if ":status" in headers:
                self.stats["status"][str(stream & 0x7FFFFFFF)] = headers[":status"]
        elif frame_type == RST_STREAM:
            self.stats["resets_received"] += 1
        elif frame_type == GOAWAY:
            self.stats["goaway"] = list(struct.unpack_from(">II", payload, 0))

    def vanish(self, how):
        if how == "goaway":
            self.send(control(GOAWAY, 0, struct.pack(">II", 0, 0)))
        if how == "rst":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def wait_until(args):
    """Prints READY, then waits for the file --until (at most --hold seconds if given), or --hold seconds."""
    print("READY", flush=True)
    deadline = time.monotonic() + args.hold if args.hold > 0 else None
    while True:
        if args.until and os.path.exists(args.until):
            return
        if deadline is not None and time.monotonic() >= deadline:
            return
        if not args.until and deadline is None:
            return
        time.sleep(0.02)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["partial", "partial-syn", "download", "hang", "ping"])
    parser.add_argument("path", nargs="?", default="/")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls", action="store_true", help="TLS with ALPN spdy/3.1 (default: plain TCP)")
    parser.add_argument("--dict", help="the SPDY/3 zlib dictionary (1423 bytes)")
    parser.add_argument("--bytes", type=int)
    parser.add_argument("--length", type=int, default=16000)
    parser.add_argument("--read", type=int, default=1 << 20)
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--ping-timeout", type=float, default=5)
    parser.add_argument("--close", choices=["rst", "fin", "goaway"], default="rst")
    parser.add_argument("--until", help="wait for this file to exist before vanishing")
    parser.add_argument("--hold", type=float, default=0, help="seconds to wait before vanishing (max with --until)")
    parser.add_argument("--timeout", type=float, default=10, help="socket timeout in seconds")
    args = parser.parse_args()
    dictionary = load_dictionary(args.dict)
    result = {"mode": args.mode, "ok": False}
    try:
        session = Session(args, dictionary)
        result["stats"] = session.stats
        if args.mode == "partial":
            settings = control(SETTINGS, 0, struct.pack(">I", 1) + struct.pack(">II", (0 << 24) | 7, 100))
            count = 5 if args.bytes is None else args.bytes
            session.send(settings[:count])
            result["sent_bytes"] = count
            wait_until(args)
            session.vanish(args.close)
            result["ok"] = True
        elif args.mode == "partial-syn":
            # A real SYN_STREAM with a large header block (a long random header value), of which only
            # the frame header and the first --bytes of the payload are sent: a valid zlib prefix the
            # server can only wait on.
            session.send = lambda data: result.setdefault("frame", data)
            session.syn_stream(args.path, extra=[("x-padding", os.urandom(args.length // 2).hex())])
            frame = result.pop("frame")
            del session.send
            count = 100 if args.bytes is None else args.bytes
            session.send(frame[:8 + count])
            result["sent_bytes"] = min(len(frame), 8 + count)
            result["frame_length"] = len(frame) - 8
            wait_until(args)
            session.vanish(args.close)
            result["ok"] = True
        elif args.mode in ("download", "hang"):
            session.window_update(0, 1 << 30)
            streams = []
            for _ in range(args.streams):
                stream = session.syn_stream(args.path)
                streams.append(stream)
                if args.mode == "download":
                    session.window_update(stream, 1 << 30)
            if args.mode == "download":
                while session.stats["data_bytes"] < args.read:
                    frame = session.read_frame()
                    if frame is None:
                        raise RuntimeError("the server closed the connection before --read bytes arrived")
                    is_control, kind, flags, _ = frame
                    if is_control and kind == RST_STREAM:
                        raise RuntimeError("the server reset a stream")
                    if not is_control and flags & FLAG_FIN:
                        raise RuntimeError(f"stream {kind} ended before --read bytes arrived (file too small?)")
                result["statuses_ok"] = all(v.startswith("200") for v in session.stats["status"].values())
            result["streams"] = len(streams)
            wait_until(args)
            session.vanish(args.close)
            result["ok"] = args.mode == "hang" or result["statuses_ok"]
        elif args.mode == "ping":
            sent, answered, rtts, pending = 0, 0, [], {}
            end = time.monotonic() + args.duration
            next_ping = time.monotonic()
            ping_id = 1
            while True:
                now = time.monotonic()
                if now >= end and not pending:
                    break
                if now >= end + args.ping_timeout:
                    break
                if now >= next_ping and now < end:
                    session.send(control(PING, 0, struct.pack(">I", ping_id)))
                    pending[ping_id] = now
                    ping_id += 2
                    sent += 1
                    next_ping = now + args.interval
                wait = max(0.01, min(next_ping, end + args.ping_timeout) - time.monotonic())
                session.sock.settimeout(wait)
                try:
                    frame = session.read_frame()
                except (socket.timeout, TimeoutError):
                    continue
                except ssl.SSLWantReadError:
                    continue
                if frame is None:
                    raise RuntimeError("the server closed the connection")
                is_control, kind, _, payload = frame
                if is_control and kind == PING:
                    (pid,) = struct.unpack_from(">I", payload, 0)
                    if pid in pending:
                        rtts.append(time.monotonic() - pending.pop(pid))
                        answered += 1
            rtts.sort()
            result.update(sent=sent, answered=answered, lost=len(pending),
                          rtt_ms_p50=round(rtts[len(rtts) // 2] * 1000, 3) if rtts else None,
                          rtt_ms_max=round(rtts[-1] * 1000, 3) if rtts else None)
            session.vanish("goaway" if args.close == "goaway" else "fin")
            result["ok"] = sent > 0 and answered == sent
    except Exception as error:  # noqa: BLE001 (any failure is the result)
        result["error"] = f"{type(error).__name__}: {error}"
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
