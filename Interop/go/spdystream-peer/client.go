package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/spdystream"
	"github.com/moby/spdystream/spdy"
)

// sniffer decodes a copy of what the server sends with spdystream's own framer. It is
// needed because spdystream's Connection parses a SYN_REPLY's header block and drops it
// (handleReplyFrame keeps only the FIN flag), so a spdystream client cannot otherwise see
// response headers.
type sniffer struct {
	sync.Mutex
	cond     *sync.Cond
	headers  map[uint32]http.Header
	finished map[uint32]bool
	err      error
}

func newSniffer(r io.Reader) *sniffer {
	s := &sniffer{headers: map[uint32]http.Header{}, finished: map[uint32]bool{}}
	s.cond = sync.NewCond(&s.Mutex)
	framer, _ := spdy.NewFramer(io.Discard, r)
	go func() {
		for {
			frame, err := framer.ReadFrame()
			s.Lock()
			if err != nil {
				s.err = err
				s.cond.Broadcast()
				s.Unlock()
				io.Copy(io.Discard, r)
				return
			}
			add := func(id spdy.StreamId, h http.Header, fin bool) {
				block := s.headers[uint32(id)]
				if block == nil {
					block = http.Header{}
					s.headers[uint32(id)] = block
				}
				for name, values := range h {
					block[name] = append(block[name], values...)
				}
				if fin {
					s.finished[uint32(id)] = true
				}
			}
			switch f := frame.(type) {
			case *spdy.SynReplyFrame:
				add(f.StreamId, f.Headers, f.CFHeader.Flags&spdy.ControlFlagFin != 0)
			case *spdy.HeadersFrame:
				add(f.StreamId, f.Headers, f.CFHeader.Flags&spdy.ControlFlagFin != 0)
			case *spdy.DataFrame:
				if f.Flags&spdy.DataFlagFin != 0 {
					s.finished[uint32(f.StreamId)] = true
				}
			case *spdy.RstStreamFrame:
				s.finished[uint32(f.StreamId)] = true
			}
			s.cond.Broadcast()
			s.Unlock()
		}
	}()
	return s
}

// responseHeaders waits until the stream's last frame went through the sniffer.
func (s *sniffer) responseHeaders(id uint32) http.Header {
	s.Lock()
	defer s.Unlock()
	for !s.finished[id] && s.err == nil {
		s.cond.Wait()
	}
	return s.headers[id]
}

// teeConn hands the sniffer a copy of everything read.
type teeConn struct {
	net.Conn
	tee io.Reader
}

func (c teeConn) Read(p []byte) (int, error) { return c.tee.Read(p) }

type response struct {
	headers http.Header
	body    []byte
	err     error
}

// request opens a stream, sends the body (one DATA frame per 16 KiB, as spdystream writes),
// and collects the SYN_REPLY headers, any HEADERS frames, and the body.
func request(conn *spdystream.Connection, sniff *sniffer, port, method, path string, extra http.Header, body []byte) response {
	headers := http.Header{
		":method": {method}, ":path": {path}, ":version": {"HTTP/1.1"}, ":scheme": {"http"},
		":host": {"127.0.0.1:" + port},
	}
	for name, values := range extra {
		headers[name] = values
	}
	stream, err := conn.CreateStream(headers, nil, body == nil)
	if err != nil {
		return response{err: err}
	}
	if body != nil {
		if err := writeBody(stream, body); err != nil {
			return response{err: err}
		}
		stream.Close()
	}
	if err := stream.WaitTimeout(30 * time.Second); err != nil {
		return response{err: err}
	}
	var r response
	go func() {
		// spdystream blocks the stream's frame worker until HEADERS frames are received.
		for {
			if _, err := stream.ReceiveHeader(); err != nil {
				return
			}
		}
	}()
	r.body, r.err = io.ReadAll(stream)
	r.headers = sniff.responseHeaders(stream.Identifier())
	return r
}

func client(port string) {
	c := &checks{prefix: "spdystream-client"}
	socket, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 10*time.Second)
	if err != nil {
		c.check(false, "connect", err.Error())
		c.finish()
	}
	reader, writer := io.Pipe()
	sniff := newSniffer(reader)
	conn, err := spdystream.NewConnection(teeConn{socket, io.TeeReader(socket, writer)}, false)
	if err != nil {
		c.check(false, "connect", err.Error())
		c.finish()
	}
	go conn.Serve(spdystream.NoOpStreamHandler)

	_, err = conn.Ping()
	c.check(err == nil, "PING answered by the server", fmt.Sprint(err))

	// Request and response headers.
	r := request(conn, sniff, port, "GET", "/headers", http.Header{"x-test": {"hello"}, "x-multi": {"a", "b"}, "accept": {"*/*"}}, nil)
	c.check(r.err == nil && r.headers.Get(":status") == "200 OK" && r.headers.Get(":version") == "HTTP/1.1",
		"GET /headers answered 200 OK", fmt.Sprint(r.err, r.headers))
	c.check(r.headers.Get("Echo-X-Test") == "hello", "response header echo-x-test", fmt.Sprint(r.headers))
	c.check(strings.Join(r.headers.Values("Echo-X-Multi"), ",") == "a,b", "response header echo-x-multi with two values",
		fmt.Sprint(r.headers.Values("Echo-X-Multi")))
	body := string(r.body)
	c.check(strings.Contains(body, "x-test: hello\n") && strings.Contains(body, ":method: GET\n"),
		"the server saw our request headers", body)

	// Uploads under 64 KiB (spdystream never sends WINDOW_UPDATE), several at once.
	const size = 60000
	var wg sync.WaitGroup
	var lock sync.Mutex
	var problems []string
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := request(conn, sniff, port, "POST", "/echo",
				http.Header{"x-test": {fmt.Sprintf("echo-%d", i)}, "x-seed": {strconv.Itoa(i)}}, pattern(size, i))
			var problem string
			switch {
			case r.err != nil:
				problem = r.err.Error()
			case len(r.body) != size || firstMismatch(r.body, i) >= 0:
				problem = fmt.Sprintf("%d bytes, first wrong byte %d", len(r.body), firstMismatch(r.body, i))
			case r.headers.Get("X-Request-Size") != strconv.Itoa(size) || r.headers.Get("X-Echo") != fmt.Sprintf("echo-%d", i) ||
				r.headers.Get("X-Pattern") != "ok":
				problem = fmt.Sprint(r.headers)
			}
			if problem != "" {
				lock.Lock()
				problems = append(problems, fmt.Sprintf("echo %d: %s", i, problem))
				lock.Unlock()
			}
		}(i)
	}
	wg.Wait()
	c.check(len(problems) == 0, "8 concurrent POST /echo of 60000 bytes: bytes and headers", strings.Join(problems, "; "))

	r = request(conn, sniff, port, "GET", "/bytes/60000?seed=7", nil, nil)
	c.check(r.err == nil && len(r.body) == size && firstMismatch(r.body, 7) < 0 && r.headers.Get("Content-Length") == "60000",
		"GET /bytes/60000: bytes and content-length", fmt.Sprint(r.err, len(r.body)))

	r = request(conn, sniff, port, "GET", "/rst", nil, nil)
	c.check(r.err == spdystream.ErrReset, "RST_STREAM received for GET /rst", fmt.Sprint(r.err))

	// A handler that adds HTTP/1.1 connection headers: they must not reach the wire (spdystream
	// fails the whole connection on a SYN_REPLY that carries one).
	r = request(conn, sniff, port, "GET", "/conn-headers", nil, nil)
	c.check(r.err == nil && r.headers.Get(":status") == "200 OK" && string(r.body) == "ok\n",
		"response of a handler that sets connection headers", fmt.Sprint(r.err, r.headers))

	r = request(conn, sniff, port, "GET", "/ping", nil, nil)
	c.check(r.err == nil && r.headers.Get(":status") == "200 OK", "server's PING answered (GET /ping)", fmt.Sprint(r.err))

	// A second PING: the Swift server counts frames from its first request on.
	_, err = conn.Ping()
	c.check(err == nil, "second PING answered", fmt.Sprint(err))

	// GOAWAY: Close sends it; the server closes the connection once no stream is open.
	closed := make(chan error, 1)
	go func() { closed <- conn.CloseWait() }()
	select {
	case err := <-closed:
		c.check(err == nil, "GOAWAY sent, connection closed", fmt.Sprint(err))
	case <-time.After(20 * time.Second):
		c.check(false, "GOAWAY sent, connection closed", "timed out")
	}
	c.finish()
}
