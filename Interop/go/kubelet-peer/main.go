// kubelet-peer: a kubelet-like streaming server on moby/spdystream, for testing Kubernetes
// clients (exec, attach, port-forward over SPDY/3.1) against an independent implementation.
//
//	kubelet-peer [-listen 127.0.0.1:0] [-stream-timeout 30s]
//
// Prints "LISTENING <port>" on stdout once listening, then serves plain HTTP/1.1 until
// killed, logging one line per request, upgrade, stream and command on stderr.
//
// It replays the kubelet's code paths (k8s.io/kubelet/pkg/cri/streaming and
// k8s.io/apimachinery/pkg/util/httpstream as of Kubernetes 1.35) over the same spdystream
// library, with containerd's stream handling behind them and built-in commands instead of
// containers:
//
//	POST|GET any path with an "exec" segment:   exec, query command= (repeated), stdin, stdout,
//	                                             stderr, tty (each "1" or "true")
//	POST|GET any path with an "attach" segment: attach to a "container process": the
//	                                             command= built-in if given, else cat
//	POST|GET any path with a "portforward" segment: port-forward to localhost:<port>
//
// Built-in commands: echo ARGS (stdout), echo-stderr ARGS (stderr), cat (stdin to stdout
// until stdin ends), exit N, sh -c 'WORDS' (runs WORDS as a built-in), size (with a TTY: the
// latest resize as WIDTHxHEIGHT, after waiting up to 5 s for one), bytes N (N bytes of
// splitmix64 seeded with 0, 64-bit outputs little-endian), sha256sum (of stdin, printed
// as "HEX  -"), sleep SECONDS, fail MESSAGE (a runtime failure rather than an exit status:
// the InternalError path). Anything else exits 127 with a message on stderr.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

var logger = log.New(os.Stderr, "kubelet-peer: ", log.Ltime|log.Lmicroseconds)

func logf(format string, args ...interface{}) { logger.Printf(format, args...) }

type server struct {
	streamCreationTimeout time.Duration
	idleTimeout           time.Duration
}

func newServer(streamCreationTimeout time.Duration) *server {
	// streaming.DefaultConfig: 30 s to create streams, 4 h of idleness.
	return &server{streamCreationTimeout: streamCreationTimeout, idleTimeout: 4 * time.Hour}
}

// route finds the operation in the path: the kubelet's /exec/NS/POD/CONTAINER,
// /portforward/NS/POD, the streaming server's /exec/TOKEN and the API server's
// /api/v1/namespaces/NS/pods/POD/exec all work. The pod is the segment after "pods", else
// after the namespace in the kubelet's form, else "pod".
func route(path string) (operation, pod string) {
	segments := strings.Split(strings.Trim(path, "/"), "/")
	at := -1
	for i, segment := range segments {
		if segment == "exec" || segment == "attach" || segment == "portforward" {
			at = i // the last one wins
		}
	}
	if at < 0 {
		return "", ""
	}
	for i := 0; i+1 < len(segments); i++ {
		if segments[i] == "pods" {
			return segments[at], segments[i+1]
		}
	}
	if at+2 < len(segments) {
		return segments[at], segments[at+2]
	}
	return segments[at], "pod"
}

func (s *server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	operation, pod := route(req.URL.Path)
	logf("%s %s from %s (Connection %q, Upgrade %q, %s %q)", req.Method, req.URL.RequestURI(), req.RemoteAddr,
		req.Header.Get(headerConnection), req.Header.Get(headerUpgrade), headerProtocolVersion, req.Header[headerProtocolVersion])
	if operation == "" {
		http.NotFound(w, req)
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodPost {
		http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}

	switch operation {
	case "exec", "attach":
		opts, err := newOptions(req)
		if err != nil {
			// The kubelet's getExec/getAttach: restful's WriteError, the message without a newline.
			logf("%s: %v", operation, err)
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(err.Error()))
			return
		}
		cmd := req.URL.Query()["command"]
		if operation == "exec" {
			s.serveExec(w, req, opts, cmd)
		} else {
			s.serveAttach(w, req, opts, cmd)
		}
	case "portforward":
		s.servePortForward(w, req, pod)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	streamTimeout := flag.Duration("stream-timeout", 30*time.Second, "how long to wait for a client's streams (exec) or stream pairs (port-forward)")
	flag.Parse()

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-peer: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING %d\n", listener.Addr().(*net.TCPAddr).Port)
	logf("listening on %s (stream creation timeout %s)", listener.Addr(), *streamTimeout)

	httpServer := &http.Server{
		Handler:  newServer(*streamTimeout),
		ErrorLog: logger,
	}
	if err := httpServer.Serve(listener); err != nil {
		logf("serve: %v", err)
		os.Exit(1)
	}
}
