#!/usr/bin/env python3
"""Drives `kubectl exec -i -t demo -- sh` under a pseudo-terminal for Interop/kubectl/run.sh.

Usage: pty_session.py TIMEOUT KUBECTL-ARGV...

Sets the window to 40x100 before kubectl starts, types `stty size`, expects "40 100"; sets
50x120 (TIOCSWINSZ) and sends SIGWINCH to kubectl, types `stty size` until it answers
"50 120" (kubectl sends the resize asynchronously; at most 10 tries in about 5 s);
types `exit 4` and expects kubectl to exit with status 4. Prints the transcript and
"OK" or "FAIL reason"; exits 0 only when all of it happened.
"""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    limit = float(sys.argv[1])
    argv = sys.argv[2:]
    deadline = time.monotonic() + limit
    pid, fd = pty.fork()
    if pid == 0:
        # The child: the pty is its controlling terminal; the size is set before exec.
        set_size(0, 40, 100)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    set_size(fd, 40, 100)
    transcript = bytearray()

    def read_until(needle, what, start=0):
        while needle not in transcript[start:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out waiting for {what} ({needle!r})")
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise EOFError(f"kubectl's terminal closed before {what} ({needle!r})")
                transcript.extend(chunk)

    def drain(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                transcript.extend(chunk)

    status = None
    try:
        read_until(b"$ ", "the first prompt")
        os.write(fd, b"stty size\r")
        read_until(b"40 100", "the first size")
        read_until(b"40 100\r\n$ ", "the prompt after the first size")
        set_size(fd, 50, 120)
        os.kill(pid, signal.SIGWINCH)
        # kubectl sends the resize from its own goroutine, so a `stty size` typed at once may
        # still see the old size: ask again (at most 10 times, 0.5 s apart) until it is new.
        for attempt in range(10):
            time.sleep(0.2 if attempt == 0 else 0.5)
            mark = len(transcript)
            os.write(fd, b"stty size\r")
            read_until(b"\r\n$ ", "the prompt after `stty size`", start=mark)
            answer = bytes(transcript[mark:])
            if b"50 120\r\n" in answer:
                break
            if b"40 100\r\n" not in answer:
                raise EOFError(f"`stty size` after the resize answered {answer!r}")
        else:
            raise TimeoutError("`stty size` still answers 40 100 after the resize to 50x120")
        os.write(fd, b"exit 4\r")
        while status is None:
            if time.monotonic() > deadline:
                raise TimeoutError("timed out waiting for kubectl to exit")
            drain(0.1)
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = raw
        drain(0.2)
    except (TimeoutError, EOFError) as error:
        print("transcript:", repr(bytes(transcript)))
        print("FAIL", error)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
        return 1
    print("transcript:", repr(bytes(transcript)))
    code = os.waitstatus_to_exitcode(status)
    if code != 4:
        print(f"FAIL kubectl exited {code}, expected 4")
        return 1
    if b"command terminated with exit code 4" not in transcript:
        print("FAIL no 'command terminated with exit code 4' in the transcript")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
