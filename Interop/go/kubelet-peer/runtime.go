package main

// A stand-in for the container runtime behind the kubelet's streaming server. It keeps
// containerd's stream handling (pkg/cri/io ExecIO.Attach, criService.execInternal): stdin is
// copied into the process until the client ends it, each output stream is closed (FIN) once
// the process's output is drained, and a non-zero exit becomes a CodeExitError whose message
// is "error executing command [ARGS], exit code N". The "process" is one of a few built-in
// commands instead of a real container.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

type execIO struct {
	stdin  io.Reader      // nil without a stdin stream
	stdout io.WriteCloser // nil without a stdout stream
	stderr io.WriteCloser // nil without a stderr stream (always nil with a TTY)
	tty    bool
	resize <-chan terminalSize // nil without a resize stream
}

// codeExitError is k8s.io/utils/exec.CodeExitError.
type codeExitError struct {
	err  error
	code int
}

func (e *codeExitError) Error() string   { return e.err.Error() }
func (e *codeExitError) ExitStatus() int { return e.code }
func (e *codeExitError) Exited() bool    { return true }

// execInContainer runs cmd as the exec'd process (attach=false) or as the container's main
// process being attached to (attach=true, where the exit status is not reported, as with
// containerd's attach; an empty cmd means "cat").
func execInContainer(ctx context.Context, cmd []string, streams execIO, attach bool) error {
	if streams.tty {
		// With a TTY the runtime has no stderr pipe: a stderr stream the client opened anyway
		// is neither written nor closed.
		streams.stderr = nil
	}
	p := &proc{ctx: ctx, args: cmd, tty: streams.tty, sizes: newResizeTracker(streams.resize)}
	if attach && len(cmd) == 0 {
		p.args = []string{"cat"}
	}

	p.stdin = strings.NewReader("")
	var stdinPipe *io.PipeReader
	if streams.stdin != nil {
		reader, writer := io.Pipe()
		stdinPipe = reader
		go func() {
			n, err := io.Copy(writer, streams.stdin)
			if err == nil {
				logf("stdin: %d bytes, then end of stream", n)
			}
			writer.CloseWithError(err)
		}()
		p.stdin = reader
	}
	p.stdout = io.Discard
	if streams.stdout != nil {
		p.stdout = streams.stdout
	}
	p.stderr = io.Discard
	if streams.stderr != nil {
		p.stderr = streams.stderr
	} else if streams.tty {
		p.stderr = p.stdout // a TTY carries both
	}

	code, err := p.run()

	// The output is drained: containerd closes each output stream, then stops feeding stdin.
	if streams.stdout != nil {
		streams.stdout.Close()
	}
	if streams.stderr != nil {
		streams.stderr.Close()
	}
	if stdinPipe != nil {
		stdinPipe.Close()
	}

	if err != nil {
		return fmt.Errorf("failed to exec in container: %w", err)
	}
	if code != 0 && !attach {
		return &codeExitError{err: fmt.Errorf("error executing command %v, exit code %d", cmd, code), code: code}
	}
	return nil
}

// --- The built-in commands -------------------------------------------------------------------

type proc struct {
	ctx    context.Context
	args   []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	tty    bool
	sizes  *resizeTracker
}

// run returns the exit status, or an error for a failure that is not one (the runtime could
// not run the command at all).
func (p *proc) run() (int, error) {
	if len(p.args) == 0 {
		return 0, errors.New("no command specified")
	}
	return p.builtin(p.args[0], p.args[1:], false)
}

func (p *proc) builtin(name string, args []string, inShell bool) (int, error) {
	switch name {
	case "echo":
		fmt.Fprintln(p.stdout, strings.Join(args, " "))
		return 0, nil
	case "echo-stderr":
		fmt.Fprintln(p.stderr, strings.Join(args, " "))
		return 0, nil
	case "cat":
		n, err := io.Copy(p.stdout, p.stdin)
		logf("cat: copied %d bytes (%v)", n, errOrEOF(err))
		return 0, nil
	case "exit":
		if len(args) == 0 {
			return 0, nil
		}
		code, err := strconv.Atoi(args[0])
		if err != nil || code < 0 {
			fmt.Fprintf(p.stderr, "exit: Illegal number: %s\n", args[0])
			return 2, nil
		}
		return code & 0xff, nil
	case "sh":
		if len(args) >= 2 && args[0] == "-c" {
			words := strings.Fields(args[1])
			if len(words) == 0 {
				return 0, nil
			}
			return p.builtin(words[0], words[1:], true)
		}
	case "size":
		return p.size(), nil
	case "bytes":
		return p.bytes(args), nil
	case "sha256sum":
		hash := sha256.New()
		n, err := io.Copy(hash, p.stdin)
		logf("sha256sum: %d bytes (%v)", n, errOrEOF(err))
		fmt.Fprintf(p.stdout, "%x  -\n", hash.Sum(nil))
		return 0, nil
	case "sleep":
		if len(args) == 1 {
			if seconds, err := strconv.ParseFloat(args[0], 64); err == nil && seconds >= 0 {
				select {
				case <-time.After(time.Duration(seconds * float64(time.Second))):
				case <-p.ctx.Done():
				}
				return 0, nil
			}
		}
		fmt.Fprintln(p.stderr, "usage: sleep SECONDS")
		return 2, nil
	case "fail":
		return 0, errors.New(strings.Join(append([]string{"fail"}, args...), " "))
	}
	if inShell {
		fmt.Fprintf(p.stderr, "sh: 1: %s: not found\n", name)
	} else {
		fmt.Fprintf(p.stderr, "%s: command not found\n", name)
	}
	return 127, nil
}

func errOrEOF(err error) string {
	if err == nil {
		return "EOF"
	}
	return err.Error()
}

// size prints the latest terminal size as WIDTHxHEIGHT once at least one resize message has
// arrived (waiting up to 5 s).
func (p *proc) size() int {
	if p.sizes == nil {
		fmt.Fprintln(p.stderr, "size: no resize stream (needs tty=true and v3 or v4)")
		return 1
	}
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case <-p.sizes.first:
	case <-timer.C:
		fmt.Fprintln(p.stderr, "size: no resize message within 5 s")
		return 1
	}
	last := p.sizes.latest()
	fmt.Fprintf(p.stdout, "%dx%d\n", last.Width, last.Height)
	return 0
}

// bytes writes N bytes of the splitmix64 stream seeded with 0 (each 64-bit output
// little-endian), in 32 KiB writes (one DATA frame each).
func (p *proc) bytes(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(p.stderr, "usage: bytes N")
		return 2
	}
	n, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || n < 0 {
		fmt.Fprintln(p.stderr, "usage: bytes N")
		return 2
	}
	hash := sha256.New()
	generator := splitmix64{}
	chunk := make([]byte, 32*1024)
	var written int64
	for written < n {
		size := int64(len(chunk))
		if n-written < size {
			size = n - written
		}
		generator.fill(chunk[:size])
		hash.Write(chunk[:size])
		if _, err := p.stdout.Write(chunk[:size]); err != nil {
			logf("bytes: write failed after %d bytes: %v", written, err)
			return 1
		}
		written += size
	}
	logf("bytes: wrote %d bytes, sha256 %x", written, hash.Sum(nil))
	return 0
}

// splitmix64 (Steele, Lea, Flood 2014), the byte stream of `bytes N`.
type splitmix64 struct {
	state   uint64
	pending [8]byte
	used    int // bytes of pending already handed out; 0 = none pending
}

func (g *splitmix64) next() uint64 {
	g.state += 0x9E3779B97F4A7C15
	z := g.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (g *splitmix64) fill(out []byte) {
	for i := range out {
		if g.used == 0 {
			binary.LittleEndian.PutUint64(g.pending[:], g.next())
		}
		out[i] = g.pending[g.used]
		g.used = (g.used + 1) % 8
	}
}

// resizeTracker consumes the resize channel (as containerd's resize handler does) and keeps
// the latest size.
type resizeTracker struct {
	mu    sync.Mutex
	last  terminalSize
	seen  bool
	first chan struct{}
}

func newResizeTracker(sizes <-chan terminalSize) *resizeTracker {
	if sizes == nil {
		return nil
	}
	t := &resizeTracker{first: make(chan struct{})}
	go func() {
		for size := range sizes {
			t.mu.Lock()
			wasSeen := t.seen
			t.last, t.seen = size, true
			t.mu.Unlock()
			if !wasSeen {
				close(t.first)
			}
		}
	}()
	return t
}

func (t *resizeTracker) latest() terminalSize {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}
