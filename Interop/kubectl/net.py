#!/usr/bin/env python3
"""TCP helpers for Interop/kubectl/run.sh.

  net.py free-ports N            prints N distinct free loopback ports (bound to 0, then released)
  net.py echo-server PORTFILE    a threaded echo server on a free loopback port: writes the port
                                 to PORTFILE, echoes each connection until EOF, then closes it;
                                 prints "CONNECTION n" per accepted connection and
                                 "CLOSED n BYTES" when one ends
  net.py echo-client PORT SIZE [COUNT]
                                 COUNT (default 1) concurrent connections to 127.0.0.1:PORT, each
                                 sends SIZE random bytes, shuts down writing, reads until EOF and
                                 compares; prints OK or FAIL lines, exit 0 only when all matched
  net.py connect-once PORT       connects, sends a little, reads until EOF or reset (or 10 s)
"""
import os
import socket
import sys
import threading
import time


def free_ports(count):
    sockets = []
    ports = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    print(" ".join(str(p) for p in ports))


def echo_server(port_file):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    lock = threading.Lock()
    count = [0]

    def serve(conn, n):
        total = 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
                total += len(data)
        except OSError as error:
            print(f"ERROR {n} {error}", flush=True)
        finally:
            conn.close()
            print(f"CLOSED {n} {total}", flush=True)

    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(tmp, port_file)
    while True:
        conn, _ = server.accept()
        with lock:
            count[0] += 1
            n = count[0]
        print(f"CONNECTION {n}", flush=True)
        threading.Thread(target=serve, args=(conn, n), daemon=True).start()


def one_echo(port, size, index, results):
    payload = os.urandom(size)
    received = bytearray()
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=30)

        def send():
            try:
                conn.sendall(payload)
                conn.shutdown(socket.SHUT_WR)
            except OSError as error:
                results[index] = f"FAIL connection {index}: sending: {error}"

        sender = threading.Thread(target=send)
        sender.start()
        while True:
            data = conn.recv(65536)
            if not data:
                break
            received.extend(data)
        sender.join()
        conn.close()
    except OSError as error:
        results[index] = f"FAIL connection {index}: {error} after {len(received)} bytes"
        return
    if results[index] is not None:
        return
    if bytes(received) == payload:
        results[index] = f"OK connection {index}: {size} bytes echoed"
    else:
        results[index] = f"FAIL connection {index}: sent {size} bytes, got {len(received)} back, not the same"


def echo_client(port, size, count):
    results = [None] * count
    threads = [threading.Thread(target=one_echo, args=(port, size, i, results)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for line in results:
        print(line)
    return 0 if all(line.startswith("OK") for line in results) else 1


def connect_once(port):
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        conn.sendall(b"hello\n")
        while conn.recv(65536):
            pass
        print("connection ended")
    except OSError as error:
        print(f"connection ended: {error}")
    conn.close()
    return 0


def main():
    command = sys.argv[1]
    if command == "free-ports":
        free_ports(int(sys.argv[2]))
    elif command == "echo-server":
        echo_server(sys.argv[2])
    elif command == "echo-client":
        count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        return echo_client(int(sys.argv[2]), int(sys.argv[3]), count)
    elif command == "connect-once":
        return connect_once(int(sys.argv[2]))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
