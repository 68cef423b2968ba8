#!/usr/bin/env python3
"""A TCP relay that delays every chunk in each direction, for when `tc netem` is missing.

Usage: delay-relay.py [--host ADDR] LISTEN_PORT TARGET_HOST:TARGET_PORT DELAY_MS JITTER_MS

Listens on ADDR:LISTEN_PORT (ADDR 0.0.0.0 by default) and relays each accepted connection to
TARGET_HOST:TARGET_PORT. Every chunk read from either side is written to the other side no
earlier than DELAY_MS +- JITTER_MS (uniform) after it was read, and never before the chunk
read ahead of it: release = max(previous release, now + delay + jitter), so the byte order
is kept, as on a link whose packets are delayed but not reordered. A direction holds at most
--max-buffer bytes (8 MiB by default) that are waiting for their release time before it stops
reading (the link's "bandwidth-delay product"; TCP's flow control does the rest). An EOF is
passed on, delayed like the data, as a half-close (shutdown(SHUT_WR)); a connection ends when
both directions have ended, or at once (both sides aborted) when either side fails. It prints
one line per connection on standard error when --verbose is given, and "listening" on
standard output once it is bound (scripts wait for that line).
"""

import argparse
import asyncio
import random
import socket
import sys
import time


class Direction:
    """One direction of a relayed connection: read, stamp, wait, write."""

    def __init__(self, name, reader, writer, delay, jitter, max_buffer):
        self.name = name
        self.reader = reader
        self.writer = writer
        self.delay = delay
        self.jitter = jitter
        self.max_buffer = max_buffer
        self.queue = asyncio.Queue()
        self.buffered = 0
        self.room = asyncio.Event()
        self.room.set()
        self.last_release = 0.0
        self.bytes = 0

    def release_time(self):
        now = time.monotonic()
        offset = self.delay + (random.uniform(-self.jitter, self.jitter) if self.jitter else 0.0)
        release = max(self.last_release, now + max(0.0, offset))
        self.last_release = release
        return release

    async def read_side(self):
        try:
            while True:
                await self.room.wait()
                data = await self.reader.read(65536)
                if not data:
                    break
                self.buffered += len(data)
                if self.buffered >= self.max_buffer:
                    self.room.clear()
                self.queue.put_nowait((self.release_time(), data))
        finally:
            # EOF (or a failure, which the writer side turns into an abort): passed on, delayed.
            self.queue.put_nowait((self.release_time(), None))

    async def write_side(self):
        while True:
            release, data = await self.queue.get()
            wait = release - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                await self.writer.drain()
                return
            self.writer.write(data)
            self.bytes += len(data)
            await self.writer.drain()
            self.buffered -= len(data)
            if self.buffered < self.max_buffer:
                self.room.set()


class Relay:
    def __init__(self, target_host, target_port, delay, jitter, max_buffer, verbose):
        self.target_host = target_host
        self.target_port = target_port
        self.delay = delay
        self.jitter = jitter
        self.max_buffer = max_buffer
        self.verbose = verbose
        self.count = 0

    def log(self, text):
        if self.verbose:
            print(f"delay-relay: {text}", file=sys.stderr, flush=True)

    async def handle(self, client_reader, client_writer):
        self.count += 1
        number = self.count
        peer = client_writer.get_extra_info("peername")
        try:
            server_reader, server_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError as error:
            self.log(f"#{number} {peer}: cannot connect to the target: {error}")
            abort(client_writer)
            return
        for w in (client_writer, server_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = Direction("up", client_reader, server_writer, self.delay, self.jitter, self.max_buffer)
        down = Direction("down", server_reader, client_writer, self.delay, self.jitter, self.max_buffer)
        tasks = [asyncio.ensure_future(t) for t in (up.read_side(), up.write_side(), down.read_side(), down.write_side())]
        self.log(f"#{number} {peer}: open")
        outcome = "closed"
        try:
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                failed = [t for t in done if not t.cancelled() and t.exception() is not None]
                if failed:
                    outcome = f"aborted ({failed[0].exception()!r})"
                    break
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if outcome == "closed":
                client_writer.close()
                server_writer.close()
            else:
                abort(client_writer)
                abort(server_writer)
        self.log(f"#{number} {peer}: {outcome}, {up.bytes} bytes up, {down.bytes} bytes down")


def abort(writer):
    """Closes with a RST, as a relay whose other side failed should."""
    transport = writer.transport
    if transport is not None and not transport.is_closing():
        transport.abort()


async def main():
    parser = argparse.ArgumentParser(description="A TCP relay that delays each direction by DELAY_MS +- JITTER_MS.")
    parser.add_argument("--host", default="0.0.0.0", help="the address to listen on (default 0.0.0.0)")
    parser.add_argument("--max-buffer", type=int, default=8 << 20, help="bytes held per direction (default 8 MiB)")
    parser.add_argument("--verbose", action="store_true", help="one line per connection on standard error")
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target", help="TARGET_HOST:TARGET_PORT")
    parser.add_argument("delay_ms", type=float)
    parser.add_argument("jitter_ms", type=float)
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    if not host or not port.isdigit():
        parser.error("the target is HOST:PORT")
    if args.jitter_ms < 0 or args.delay_ms < 0:
        parser.error("the delay and the jitter are not negative")
    relay = Relay(host.strip("[]"), int(port), args.delay_ms / 1000, args.jitter_ms / 1000, args.max_buffer, args.verbose)
    server = await asyncio.start_server(relay.handle, args.host, args.listen_port, reuse_address=True)
    print(f"listening on {args.host}:{args.listen_port} -> {args.target}, delay {args.delay_ms} ms +- {args.jitter_ms} ms", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
