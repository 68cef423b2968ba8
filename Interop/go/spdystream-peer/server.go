package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/spdystream"
)

// The server's routes mirror the Swift driver's: GET /bytes/N?seed=S, POST /echo, GET /headers,
// GET /rst, GET /ping. spdystream drops DATA on a stream it has not replied to, so every
// route sends SYN_REPLY first; /echo sends x-request-size and x-pattern in a HEADERS frame
// after the body, since they are known only then.
type serverState struct {
	sync.Mutex
	conn      *spdystream.Connection
	seen      map[string]int
	problems  []string
	echoesOK  int
	headersOK bool
}

func (s *serverState) problem(format string, args ...interface{}) {
	s.Lock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
	s.Unlock()
}

func reply(stream *spdystream.Stream, status string, extra http.Header, fin bool) error {
	headers := http.Header{":status": {status}, ":version": {"HTTP/1.1"}}
	for name, values := range extra {
		headers[name] = values
	}
	return stream.SendReply(headers, fin)
}

func writeBody(stream *spdystream.Stream, body []byte) error {
	const chunk = 16 * 1024
	for offset := 0; offset < len(body); offset += chunk {
		end := offset + chunk
		if end > len(body) {
			end = len(body)
		}
		if _, err := stream.Write(body[offset:end]); err != nil {
			return err
		}
	}
	return nil
}

func (s *serverState) handle(stream *spdystream.Stream) {
	h := stream.Headers()
	method, full := h.Get(":method"), h.Get(":path")
	path, query, _ := strings.Cut(full, "?")
	seed := 0
	if strings.HasPrefix(query, "seed=") {
		seed, _ = strconv.Atoi(strings.TrimPrefix(query, "seed="))
	}
	s.Lock()
	s.seen[path]++
	s.Unlock()
	for _, name := range []string{":method", ":path", ":version", ":scheme", ":host"} {
		if h.Get(name) == "" {
			s.problem("stream %d: no %s", stream.Identifier(), name)
		}
	}
	switch {
	case method == "GET" && strings.HasPrefix(path, "/bytes/"):
		size, _ := strconv.Atoi(strings.TrimPrefix(path, "/bytes/"))
		reply(stream, "200 OK", http.Header{"content-length": {strconv.Itoa(size)}, "x-seed": {strconv.Itoa(seed)}}, false)
		go func() {
			writeBody(stream, pattern(size, seed))
			stream.Close()
		}()
	case method == "POST" && path == "/echo":
		reply(stream, "200 OK", http.Header{"x-echo": h.Values("X-Test"), "content-type": {"application/octet-stream"}}, false)
		go func() {
			body, err := io.ReadAll(stream)
			if err != nil {
				s.problem("stream %d: reading the body: %v", stream.Identifier(), err)
			}
			result := "ok"
			if seed, err := strconv.Atoi(h.Get("X-Seed")); err == nil {
				if at := firstMismatch(body, seed); at >= 0 {
					result = fmt.Sprintf("bad at %d", at)
					s.problem("stream %d: upload differs at byte %d", stream.Identifier(), at)
				} else {
					s.Lock()
					s.echoesOK++
					s.Unlock()
				}
			}
			writeBody(stream, body)
			stream.SendHeader(http.Header{"x-request-size": {strconv.Itoa(len(body))}, "x-pattern": {result}}, false)
			stream.Close()
		}()
	case method == "GET" && path == "/headers":
		extra := http.Header{"content-type": {"text/plain"}}
		var lines []string
		for name, values := range h {
			lower := strings.ToLower(name)
			lines = append(lines, lower+": "+strings.Join(values, ","))
			if strings.HasPrefix(lower, "x-") {
				extra["echo-"+lower] = values
			}
		}
		sort.Strings(lines)
		if h.Get("X-Test") == "hello" {
			// The first /headers request: check what our client sent.
			ok := strings.Join(h.Values("X-Multi"), ",") == "a,b" && h.Get("Accept") == "*/*" &&
				h.Get(":version") == "HTTP/1.1" && h.Get(":scheme") == "http" && h.Get(":method") == "GET"
			s.Lock()
			s.headersOK = ok
			s.Unlock()
			if !ok {
				s.problem("request headers: %s", strings.Join(lines, " | "))
			}
		}
		reply(stream, "200 OK", extra, false)
		go func() {
			writeBody(stream, []byte(strings.Join(lines, "\n")+"\n"))
			stream.Close()
		}()
	case method == "GET" && path == "/rst":
		stream.Reset() // RST_STREAM CANCEL
	case method == "GET" && path == "/ping":
		go func() {
			rtt, err := s.conn.Ping()
			if err != nil {
				s.problem("PING to the client: %v", err)
				stream.Reset()
				return
			}
			reply(stream, "200 OK", http.Header{"x-ping-id": {"2"}, "x-rtt": {rtt.String()}}, false)
			writeBody(stream, []byte("pong\n"))
			stream.Close()
		}()
	default:
		reply(stream, "404 Not Found", nil, true)
	}
}

func server() {
	c := &checks{prefix: "spdystream-server"}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("spdystream-server: cannot listen:", err)
		os.Exit(1)
	}
	fmt.Printf("PORT %d\n", listener.Addr().(*net.TCPAddr).Port)
	socket, err := listener.Accept()
	if err != nil {
		fmt.Println("spdystream-server: accept:", err)
		os.Exit(1)
	}
	conn, err := spdystream.NewConnection(socket, true)
	if err != nil {
		fmt.Println("spdystream-server:", err)
		os.Exit(1)
	}
	state := &serverState{conn: conn, seen: map[string]int{}}
	goAway := make(chan *spdystream.Stream, 1)
	conn.NotifyClose(goAway, 10*time.Second)
	go conn.Serve(state.handle)

	// Serve returns (closing CloseChan) on GOAWAY, EOF or a frame it cannot read.
	<-conn.CloseChan()
	gotGoAway := false
	select {
	case <-goAway:
		gotGoAway = true
	case <-time.After(2 * time.Second):
	}
	conn.Wait(5 * time.Second)

	state.Lock()
	defer state.Unlock()
	fmt.Printf("spdystream-server: requests %v\n", state.seen)
	c.check(len(state.problems) == 0, "no protocol problem", strings.Join(state.problems, "; "))
	c.check(state.headersOK, "request headers of GET /headers as sent", "")
	c.check(state.seen["/headers"] == 2, "both GET /headers requests arrived (one with HTTP/1.1 connection headers)",
		fmt.Sprintf("%d", state.seen["/headers"]))
	c.check(state.echoesOK == 8, "8 uploads of 60000 bytes intact", fmt.Sprintf("%d", state.echoesOK))
	c.check(state.seen["/bytes/60000"] == 1 && state.seen["/rst"] == 1 && state.seen["/ping"] == 1,
		"GET /bytes, /rst and /ping arrived", fmt.Sprintf("%v", state.seen))
	c.check(gotGoAway, "GOAWAY received before the connection closed", "")
	c.finish()
}
