package main

// port-forward, ported from k8s.io/kubelet/pkg/cri/streaming/portforward/httpstream.go as of
// Kubernetes 1.35 (the error message is written as plain text, then both streams of the pair
// are reset — Kubernetes PR 128318, in since 1.32), with containerd's forwarder
// (criService.portForward, host network) behind it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/moby/spdystream"
)

const portForwardProtocolV1Name = "portforward.k8s.io"

var supportedPortForwardProtocols = []string{portForwardProtocolV1Name}

func (s *server) servePortForward(w http.ResponseWriter, req *http.Request, podName string) {
	if _, err := handshake(req, w, supportedPortForwardProtocols); err != nil {
		logf("handshake failed: %v", err)
		return
	}
	streamChan := make(chan *spdystream.Stream, 1)

	conn := upgradeResponse(w, req, httpStreamReceived(streamChan))
	if conn == nil {
		logf("unable to upgrade httpstream connection")
		return
	}
	defer func() {
		conn.Close()
		logf("port-forward %s: connection closed", podName)
	}()
	conn.SetIdleTimeout(s.idleTimeout)

	h := &httpStreamHandler{
		conn:                  conn,
		streamChan:            streamChan,
		streamPairs:           make(map[string]*httpStreamPair),
		streamCreationTimeout: s.streamCreationTimeout,
		pod:                   podName,
		uid:                   "",
	}
	h.run()
}

// httpStreamReceived checks each new stream's port and streamtype headers; an error rejects
// the stream (RST_STREAM without a SYN_REPLY).
func httpStreamReceived(streams chan *spdystream.Stream) newStreamHandler {
	return func(stream *spdystream.Stream, replySent <-chan struct{}) error {
		portString := stream.Headers().Get("port")
		streamType := stream.Headers().Get("streamtype")
		logf("stream %d: streamtype=%q port=%q requestid=%q", stream.Identifier(), streamType, portString, stream.Headers().Get("requestid"))
		if len(portString) == 0 {
			return fmt.Errorf("%q header is required", "port")
		}
		port, err := strconv.ParseUint(portString, 10, 16)
		if err != nil {
			return fmt.Errorf("unable to parse %q as a port: %v", portString, err)
		}
		if port < 1 {
			return fmt.Errorf("port %q must be > 0", portString)
		}

		if len(streamType) == 0 {
			return fmt.Errorf("%q header is required", "streamtype")
		}
		if streamType != streamTypeError && streamType != streamTypeData {
			return fmt.Errorf("invalid stream type %q", streamType)
		}

		streams <- stream
		return nil
	}
}

type httpStreamHandler struct {
	conn                  *spdyConnection
	streamChan            chan *spdystream.Stream
	streamPairsLock       sync.RWMutex
	streamPairs           map[string]*httpStreamPair
	streamCreationTimeout time.Duration
	pod                   string
	uid                   string
}

func (h *httpStreamHandler) getStreamPair(requestID string) (*httpStreamPair, bool) {
	h.streamPairsLock.Lock()
	defer h.streamPairsLock.Unlock()

	if p, ok := h.streamPairs[requestID]; ok {
		return p, false
	}
	p := newPortForwardPair(requestID)
	h.streamPairs[requestID] = p
	return p, true
}

func (h *httpStreamHandler) monitorStreamPair(p *httpStreamPair, timeout <-chan time.Time) {
	select {
	case <-timeout:
		err := fmt.Errorf("(conn=%p, request=%s) timed out waiting for streams", h.conn, p.requestID)
		logf("%v", err)
		p.printError(err.Error())
	case <-p.complete:
		logf("request %s: error and data streams received", p.requestID)
	}
	h.removeStreamPair(p.requestID)
}

func (h *httpStreamHandler) removeStreamPair(requestID string) {
	h.streamPairsLock.Lock()
	defer h.streamPairsLock.Unlock()

	if h.conn != nil {
		pair := h.streamPairs[requestID]
		h.conn.RemoveStreams(pair.dataStream, pair.errorStream)
	}
	delete(h.streamPairs, requestID)
}

// requestID is the requestid header, or for clients that predate it, a pseudo-ID from the
// stream ID (error: its ID; data: its ID - 2).
func (h *httpStreamHandler) requestID(stream *spdystream.Stream) string {
	requestID := stream.Headers().Get("requestid")
	if len(requestID) == 0 {
		switch stream.Headers().Get("streamtype") {
		case streamTypeError:
			requestID = strconv.Itoa(int(stream.Identifier()))
		case streamTypeData:
			requestID = strconv.Itoa(int(stream.Identifier()) - 2)
		}
		logf("stream %d without requestid: using %q", stream.Identifier(), requestID)
	}
	return requestID
}

func (h *httpStreamHandler) run() {
Loop:
	for {
		select {
		case <-h.conn.CloseChan():
			break Loop
		case stream := <-h.streamChan:
			requestID := h.requestID(stream)
			p, created := h.getStreamPair(requestID)
			if created {
				go h.monitorStreamPair(p, time.After(h.streamCreationTimeout))
			}
			if complete, err := p.add(stream); err != nil {
				msg := fmt.Sprintf("error processing stream for request %s: %v", requestID, err)
				logf("%s", msg)
				p.printError(msg)
			} else if complete {
				go h.portForward(p)
			}
		}
	}
}

func (h *httpStreamHandler) portForward(p *httpStreamPair) {
	ctx := context.Background()
	defer p.dataStream.Close()
	defer p.errorStream.Close()

	portString := p.dataStream.Headers().Get("port")
	port, _ := strconv.ParseInt(portString, 10, 32)

	logf("request %s: forwarding to port %d", p.requestID, port)
	err := forwardPort(ctx, h.pod, int32(port), p.dataStream)
	if err != nil {
		msg := fmt.Errorf("error forwarding port %d to pod %s, uid %v: %v", port, h.pod, h.uid, err)
		logf("request %s: %v", p.requestID, msg)
		fmt.Fprint(p.errorStream, msg.Error())
		// As the kubelet since 1.32: reset both streams after an error.
		p.dataStream.Reset()
		p.errorStream.Reset()
		return
	}
	logf("request %s: port %d done", p.requestID, port)
}

type httpStreamPair struct {
	lock        sync.RWMutex
	requestID   string
	dataStream  *spdystream.Stream
	errorStream *spdystream.Stream
	complete    chan struct{}
}

func newPortForwardPair(requestID string) *httpStreamPair {
	return &httpStreamPair{requestID: requestID, complete: make(chan struct{})}
}

func (p *httpStreamPair) add(stream *spdystream.Stream) (bool, error) {
	p.lock.Lock()
	defer p.lock.Unlock()

	switch stream.Headers().Get("streamtype") {
	case streamTypeError:
		if p.errorStream != nil {
			return false, errors.New("error stream already assigned")
		}
		p.errorStream = stream
	case streamTypeData:
		if p.dataStream != nil {
			return false, errors.New("data stream already assigned")
		}
		p.dataStream = stream
	}

	complete := p.errorStream != nil && p.dataStream != nil
	if complete {
		close(p.complete)
	}
	return complete, nil
}

func (p *httpStreamPair) printError(s string) {
	p.lock.RLock()
	defer p.lock.RUnlock()
	if p.errorStream != nil {
		fmt.Fprint(p.errorStream, s)
	}
}

// forwardPort is containerd's criService.portForward for a host-network sandbox named id:
// dial localhost:port (IPv4, then IPv6), copy both ways until one direction ends, give the
// other up to a second, then close the connection and the data stream.
func forwardPort(ctx context.Context, id string, port int32, stream io.ReadWriteCloser) error {
	const netNSPath = "host"
	err := func() error {
		defer stream.Close()
		conn, err := net.Dial("tcp4", fmt.Sprintf("localhost:%d", port))
		if err != nil {
			var errV6 error
			conn, errV6 = net.Dial("tcp6", fmt.Sprintf("localhost:%d", port))
			if errV6 != nil {
				return fmt.Errorf("failed to connect to localhost:%d inside namespace %q, IPv4: %v IPv6 %v ", port, id, err, errV6)
			}
		}
		defer conn.Close()
		logf("port %d: connected %s -> %s", port, conn.LocalAddr(), conn.RemoteAddr())

		errCh := make(chan error, 2)
		go func() {
			n, err := io.Copy(stream, conn)
			logf("port %d: %d bytes to the client (%v)", port, n, errOrEOF(err))
			errCh <- err
		}()
		go func() {
			n, err := io.Copy(conn, stream)
			logf("port %d: %d bytes from the client (%v)", port, n, errOrEOF(err))
			errCh <- err
		}()

		var errFwd error
		select {
		case errFwd = <-errCh:
		case <-ctx.Done():
			return ctx.Err()
		}
		// Give the other direction a chance to finish, for up to a second.
		select {
		case e := <-errCh:
			if errFwd == nil {
				errFwd = e
			}
		case <-time.After(time.Second):
			logf("port %d: timed out waiting to close the connection", port)
		case <-ctx.Done():
			errFwd = ctx.Err()
		}
		return errFwd
	}()
	if err != nil {
		return fmt.Errorf("failed to execute portforward in network namespace %q: %w", netNSPath, err)
	}
	return nil
}
