package main

// The HTTP upgrade and the SPDY connection wrapper, ported from
// k8s.io/apimachinery/pkg/util/httpstream (httpstream.go: Handshake, as of the 2025-09 change
// that answers 400 when X-Stream-Protocol-Version is missing) and
// k8s.io/apimachinery/pkg/util/httpstream/spdy (upgrade.go, connection.go).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/spdystream"
)

const (
	headerConnection               = "Connection"
	headerUpgrade                  = "Upgrade"
	headerProtocolVersion          = "X-Stream-Protocol-Version"
	headerAcceptedProtocolVersions = "X-Accepted-Stream-Protocol-Versions"
	headerSpdy31                   = "SPDY/3.1"
)

// newStreamHandler is httpstream.NewStreamHandler: an error rejects the stream (RST_STREAM
// CANCEL, no reply); replySent is closed once the SYN_REPLY is written.
type newStreamHandler func(stream *spdystream.Stream, replySent <-chan struct{}) error

func negotiateProtocol(clientProtocols, serverProtocols []string) string {
	for i := range clientProtocols {
		for j := range serverProtocols {
			if clientProtocols[i] == serverProtocols[j] {
				return clientProtocols[i]
			}
		}
	}
	return ""
}

func commaSeparatedHeaderValues(header []string) []string {
	var parsed []string
	for i := range header {
		for _, protocol := range strings.Split(header[i], ",") {
			if proto := strings.Trim(protocol, " "); len(proto) > 0 {
				parsed = append(parsed, proto)
			}
		}
	}
	return parsed
}

// handshake is httpstream.Handshake: it picks the first client protocol the server supports
// and adds it to the response headers, or answers 400/403 itself.
func handshake(req *http.Request, w http.ResponseWriter, serverProtocols []string) (string, error) {
	values, ok := req.Header[http.CanonicalHeaderKey(headerProtocolVersion)]
	if !ok {
		err := fmt.Errorf("unable to upgrade: header %s does not exist in request with %d headers", headerProtocolVersion, len(req.Header))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return "", err
	}
	if len(values) == 0 {
		err := fmt.Errorf("unable to upgrade: header %s is empty", headerProtocolVersion)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return "", err
	}
	clientProtocols := commaSeparatedHeaderValues(values)
	if len(clientProtocols) == 0 {
		err := fmt.Errorf("unable to upgrade: header %s contains %s, but no valid protocols", headerProtocolVersion, values)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return "", err
	}

	negotiated := negotiateProtocol(clientProtocols, serverProtocols)
	if len(negotiated) == 0 {
		for i := range serverProtocols {
			w.Header().Add(headerAcceptedProtocolVersions, serverProtocols[i])
		}
		err := fmt.Errorf("unable to upgrade: unable to negotiate protocol: client supports %v, server accepts %v", clientProtocols, serverProtocols)
		http.Error(w, err.Error(), http.StatusForbidden)
		return "", err
	}

	w.Header().Add(headerProtocolVersion, negotiated)
	return negotiated, nil
}

// connWrapper is spdy.connWrapper: the hijacked connection, reading through the bufio.Reader
// the HTTP server may already have filled.
type connWrapper struct {
	net.Conn
	closed    int32
	bufReader *bufio.Reader
}

func (w *connWrapper) Read(b []byte) (int, error) {
	if atomic.LoadInt32(&w.closed) == 1 {
		return 0, io.EOF
	}
	return w.bufReader.Read(b)
}

func (w *connWrapper) Close() error {
	err := w.Conn.Close()
	atomic.StoreInt32(&w.closed, 1)
	return err
}

// upgradeResponse is spdy.responseUpgrader.UpgradeResponse (no pings, as
// spdy.NewResponseUpgrader): 400 without the upgrade headers, else 101 and a server-side
// spdystream connection over the hijacked socket.
func upgradeResponse(w http.ResponseWriter, req *http.Request, handler newStreamHandler) *spdyConnection {
	connectionHeader := strings.ToLower(req.Header.Get(headerConnection))
	upgradeHeader := strings.ToLower(req.Header.Get(headerUpgrade))
	if !strings.Contains(connectionHeader, strings.ToLower(headerUpgrade)) || !strings.Contains(upgradeHeader, strings.ToLower(headerSpdy31)) {
		errorMsg := fmt.Sprintf("unable to upgrade: missing upgrade headers in request: %#v", req.Header)
		http.Error(w, errorMsg, http.StatusBadRequest)
		logf("upgrade refused: missing upgrade headers (Connection %q, Upgrade %q)", req.Header.Get(headerConnection), req.Header.Get(headerUpgrade))
		return nil
	}

	hijacker, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "unable to upgrade: unable to hijack response", http.StatusInternalServerError)
		return nil
	}

	w.Header().Add(headerConnection, headerUpgrade)
	w.Header().Add(headerUpgrade, headerSpdy31)
	w.WriteHeader(http.StatusSwitchingProtocols)

	conn, bufrw, err := hijacker.Hijack()
	if err != nil {
		logf("unable to upgrade: error hijacking response: %v", err)
		return nil
	}

	connWithBuf := &connWrapper{Conn: conn, bufReader: bufrw.Reader}
	spdyConn, err := newServerConnection(connWithBuf, handler)
	if err != nil {
		logf("unable to upgrade: error creating SPDY server connection: %v", err)
		return nil
	}
	logf("upgraded %s to SPDY/3.1 (%s)", conn.RemoteAddr(), w.Header().Get(headerProtocolVersion))
	return spdyConn
}

// spdyConnection is spdy.connection: a spdystream connection plus the streams it accepted.
type spdyConnection struct {
	conn             *spdystream.Connection
	streamLock       sync.Mutex
	streams          map[uint32]*spdystream.Stream
	newStreamHandler newStreamHandler
}

func newServerConnection(conn net.Conn, handler newStreamHandler) (*spdyConnection, error) {
	spdyConn, err := spdystream.NewConnection(conn, true)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &spdyConnection{
		conn:             spdyConn,
		streams:          make(map[uint32]*spdystream.Stream),
		newStreamHandler: handler,
	}
	go spdyConn.Serve(c.newSpdyStream)
	return c, nil
}

// Close resets every registered stream (RST_STREAM CANCEL for those this side has not
// finished), then closes the spdystream connection (GOAWAY, then the socket once no stream
// is left).
func (c *spdyConnection) Close() error {
	c.streamLock.Lock()
	for _, s := range c.streams {
		s.Reset()
	}
	c.streams = make(map[uint32]*spdystream.Stream)
	c.streamLock.Unlock()
	return c.conn.Close()
}

// RemoveStreams drops streams from the set Close resets.
func (c *spdyConnection) RemoveStreams(streams ...*spdystream.Stream) {
	c.streamLock.Lock()
	for _, stream := range streams {
		// It may be possible that the provided stream is nil if timed out.
		if stream != nil {
			delete(c.streams, stream.Identifier())
		}
	}
	c.streamLock.Unlock()
}

func (c *spdyConnection) CloseChan() <-chan bool { return c.conn.CloseChan() }

func (c *spdyConnection) SetIdleTimeout(timeout time.Duration) { c.conn.SetIdleTimeout(timeout) }

func (c *spdyConnection) registerStream(s *spdystream.Stream) {
	c.streamLock.Lock()
	c.streams[s.Identifier()] = s
	c.streamLock.Unlock()
}

// newSpdyStream runs on spdystream's frame worker for each SYN_STREAM: the handler decides,
// then the stream is registered and replied to with empty headers.
func (c *spdyConnection) newSpdyStream(stream *spdystream.Stream) {
	replySent := make(chan struct{})
	err := c.newStreamHandler(stream, replySent)
	rejectStream := err != nil
	if rejectStream {
		logf("stream %d rejected: %v", stream.Identifier(), err)
		stream.Reset()
		return
	}

	c.registerStream(stream)
	stream.SendReply(http.Header{}, rejectStream)
	close(replySent)
}
