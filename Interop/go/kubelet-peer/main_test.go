package main

// Self-checks with a spdystream client playing kubectl. Offline, in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go test ./Interop/go/kubelet-peer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/spdystream"
)

func startServer(t *testing.T, streamTimeout time.Duration) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpServer := &http.Server{Handler: newServer(streamTimeout), ErrorLog: logger}
	go httpServer.Serve(listener)
	t.Cleanup(func() { httpServer.Close() })
	return listener.Addr().String()
}

type bufConn struct {
	net.Conn
	reader *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.reader.Read(b) }

// upgrade sends the upgrade request as kubectl does and returns the response, plus the
// client-side spdystream connection when the answer was 101.
func upgrade(t *testing.T, addr, path string, protocols []string) (*http.Response, *spdystream.Connection) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var request strings.Builder
	fmt.Fprintf(&request, "POST %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n", path, addr)
	for _, protocol := range protocols {
		fmt.Fprintf(&request, "X-Stream-Protocol-Version: %s\r\n", protocol)
	}
	request.WriteString("Content-Length: 0\r\n\r\n")
	if _, err := conn.Write([]byte(request.String())); err != nil {
		t.Fatal(err)
	}
	reader := bufio.NewReader(conn)
	response, err := http.ReadResponse(reader, nil)
	if err != nil {
		t.Fatal(err)
	}
	if response.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return response, nil
	}
	spdyConn, err := spdystream.NewConnection(&bufConn{Conn: conn, reader: reader}, false)
	if err != nil {
		t.Fatal(err)
	}
	go spdyConn.Serve(spdystream.NoOpStreamHandler)
	t.Cleanup(func() { spdyConn.Close() })
	return response, spdyConn
}

func openStream(t *testing.T, conn *spdystream.Connection, headers http.Header) *spdystream.Stream {
	t.Helper()
	stream, err := conn.CreateStream(headers, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.WaitTimeout(5 * time.Second); err != nil {
		t.Fatalf("stream %v: %v", headers, err)
	}
	return stream
}

type execResult struct {
	protocol              string
	stdout, stderr, error string
}

// execute runs an exec the way kubectl does: streams error, stdin, stdout, stderr, resize in
// that order, then reads stdout, stderr and the error stream to their ends.
func execute(t *testing.T, addr, protocol, query string, stdin []byte, sizes []terminalSize) execResult {
	t.Helper()
	return run(t, addr, "/exec/default/pod/main?", protocol, query, stdin, sizes)
}

func run(t *testing.T, addr, path, protocol, query string, stdin []byte, sizes []terminalSize) execResult {
	t.Helper()
	response, conn := upgrade(t, addr, path+query, []string{protocol})
	if conn == nil {
		t.Fatalf("upgrade: %s", response.Status)
	}
	result := execResult{protocol: response.Header.Get(headerProtocolVersion)}
	has := func(name string) bool {
		return strings.Contains(query, name+"=true") || strings.Contains(query, name+"=1")
	}
	open := func(streamType string) *spdystream.Stream {
		return openStream(t, conn, http.Header{"streamtype": {streamType}})
	}

	var wg sync.WaitGroup
	read := func(stream *spdystream.Stream, into *string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, _ := io.ReadAll(stream)
			*into = string(data)
		}()
	}
	read(open(streamTypeError), &result.error)
	var stdinStream *spdystream.Stream
	if has("stdin") {
		stdinStream = open(streamTypeStdin)
	}
	if has("stdout") {
		read(open(streamTypeStdout), &result.stdout)
	}
	if has("stderr") && !has("tty") {
		read(open(streamTypeStderr), &result.stderr)
	}
	if has("tty") && protocol != streamProtocolV2Name {
		resize := open(streamTypeResize)
		for _, size := range sizes {
			encoded, _ := json.Marshal(size)
			resize.Write(append(encoded, '\n'))
		}
	}
	if stdinStream != nil {
		if len(stdin) > 0 {
			stdinStream.Write(stdin)
		}
		stdinStream.Close()
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the streams did not end")
	}
	return result
}

func TestExecEchoV4(t *testing.T) {
	addr := startServer(t, 5*time.Second)
	result := execute(t, addr, streamProtocolV4Name, "command=echo&command=hi&stdout=true", nil, nil)
	if result.protocol != streamProtocolV4Name {
		t.Errorf("protocol %q", result.protocol)
	}
	if result.stdout != "hi\n" {
		t.Errorf("stdout %q", result.stdout)
	}
	if want := `{"metadata":{},"status":"Success"}`; result.error != want {
		t.Errorf("status %s, want %s", result.error, want)
	}
}

func TestExecExitCodeV4(t *testing.T) {
	addr := startServer(t, 5*time.Second)
	for _, query := range []string{"command=exit&command=3", "command=sh&command=-c&command=exit+3"} {
		result := execute(t, addr, streamProtocolV4Name, query+"&stdout=true&stderr=true", nil, nil)
		var st status
		if err := json.Unmarshal([]byte(result.error), &st); err != nil {
			t.Fatalf("status %q: %v", result.error, err)
		}
		if st.Status != "Failure" || st.Reason != "NonZeroExitCode" || st.Details == nil ||
			len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != "ExitCode" || st.Details.Causes[0].Message != "3" {
			t.Errorf("status %s", result.error)
		}
		if !strings.HasPrefix(st.Message, "command terminated with non-zero exit code: error executing command [") {
			t.Errorf("message %q", st.Message)
		}
	}
	result := execute(t, addr, streamProtocolV4Name, "command=sh&command=-c&command=exit+3&stdout=true", nil, nil)
	want := `{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`
	if result.error != want {
		t.Errorf("status\n %s\nwant\n %s", result.error, want)
	}
}

func TestExecV3AndV2(t *testing.T) {
	addr := startServer(t, 5*time.Second)
	for _, protocol := range []string{streamProtocolV3Name, streamProtocolV2Name} {
		result := execute(t, addr, protocol, "command=exit&command=5&stdout=1", nil, nil)
		if want := "command terminated with non-zero exit code: error executing command [exit 5], exit code 5"; result.error != want {
			t.Errorf("%s: error stream %q", protocol, result.error)
		}
		result = execute(t, addr, protocol, "command=echo&command=ok&stdout=1", nil, nil)
		if result.error != "" || result.stdout != "ok\n" {
			t.Errorf("%s: %+v", protocol, result)
		}
	}
}

func TestExecStdinStderrAndUnknown(t *testing.T) {
	addr := startServer(t, 5*time.Second)
	result := execute(t, addr, streamProtocolV4Name, "command=cat&stdin=true&stdout=true&stderr=true", []byte("hello\nworld\n"), nil)
	if result.stdout != "hello\nworld\n" || result.error != `{"metadata":{},"status":"Success"}` {
		t.Errorf("cat: %+v", result)
	}
	result = execute(t, addr, streamProtocolV4Name, "command=echo-stderr&command=oops&stdout=true&stderr=true", nil, nil)
	if result.stdout != "" || result.stderr != "oops\n" {
		t.Errorf("echo-stderr: %+v", result)
	}
	result = execute(t, addr, streamProtocolV4Name, "command=nosuch&stdout=true&stderr=true", nil, nil)
	if !strings.Contains(result.stderr, "nosuch") || !strings.Contains(result.error, `"message":"127"`) {
		t.Errorf("unknown command: %+v", result)
	}
	result = execute(t, addr, streamProtocolV4Name, "command=fail&command=boom&stdout=true", nil, nil)
	if !strings.Contains(result.error, `"reason":"InternalError"`) || !strings.Contains(result.error, `"code":500`) {
		t.Errorf("fail: %+v", result)
	}
}

func TestAttach(t *testing.T) {
	addr := startServer(t, 5*time.Second)
	path := "/api/v1/namespaces/default/pods/web/attach?"
	result := run(t, addr, path, streamProtocolV4Name, "stdin=true&stdout=true&stderr=true", []byte("typed"), nil)
	if result.stdout != "typed" || result.error != `{"metadata":{},"status":"Success"}` {
		t.Errorf("attach: %+v", result)
	}
	result = run(t, addr, path, streamProtocolV4Name, "command=exit&command=3&stdout=true", nil, nil)
	if result.error != `{"metadata":{},"status":"Success"}` {
		t.Errorf("attach to a process exiting 3: %+v", result)
	}
}

func TestExecTTYSize(t *testing.T) {
	addr := startServer(t, 5*time.Second)
	result := execute(t, addr, streamProtocolV4Name, "command=size&stdout=true&tty=true", nil, []terminalSize{{Width: 100, Height: 40}})
	if result.stdout != "100x40\n" || result.error != `{"metadata":{},"status":"Success"}` {
		t.Errorf("size: %+v", result)
	}
}

func TestExecBytes(t *testing.T) {
	addr := startServer(t, 5*time.Second)
	const size = 3 << 20
	result := execute(t, addr, streamProtocolV4Name, fmt.Sprintf("command=bytes&command=%d&stdout=true", size), nil, nil)
	want := make([]byte, size)
	generator := splitmix64{}
	generator.fill(want[:7])
	generator.fill(want[7:])
	if len(result.stdout) != size || sha256.Sum256([]byte(result.stdout)) != sha256.Sum256(want) {
		t.Errorf("bytes: %d bytes, want %d", len(result.stdout), size)
	}
	// The first output of splitmix64 seeded with 0 is 0xe220a8397b1dcdaf.
	if !bytes.Equal(want[:8], []byte{0xaf, 0xcd, 0x1d, 0x7b, 0x39, 0xa8, 0x20, 0xe2}) {
		t.Errorf("generator starts % x", want[:8])
	}
}

func TestHandshakeFailures(t *testing.T) {
	addr := startServer(t, 5*time.Second)
	response, _ := upgrade(t, addr, "/exec/ns/pod/c?command=echo&stdout=true", nil)
	if response.StatusCode != http.StatusBadRequest {
		t.Errorf("no version: %s", response.Status)
	}
	response, _ = upgrade(t, addr, "/exec/ns/pod/c?command=echo&stdout=true", []string{"v5.channel.k8s.io"})
	if response.StatusCode != http.StatusForbidden || len(response.Header[headerAcceptedProtocolVersions]) != 4 {
		t.Errorf("no common version: %s %v", response.Status, response.Header)
	}
	response, _ = upgrade(t, addr, "/exec/ns/pod/c?command=echo&stdout=true", []string{"v5.channel.k8s.io, v3.channel.k8s.io"})
	if response.StatusCode != http.StatusSwitchingProtocols || response.Header.Get(headerProtocolVersion) != streamProtocolV3Name {
		t.Errorf("comma-separated versions: %s %v", response.Status, response.Header)
	}
	response, _ = upgrade(t, addr, "/portforward/ns/pod", []string{streamProtocolV4Name})
	if response.StatusCode != http.StatusForbidden {
		t.Errorf("port-forward with a channel protocol: %s", response.Status)
	}
}

func echoListener(t *testing.T) int {
	t.Helper()
	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(conn, conn)
				conn.Close()
			}()
		}
	}()
	return listener.Addr().(*net.TCPAddr).Port
}

func closedPort(t *testing.T) int {
	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	listener.Close()
	return port
}

// forward opens a pair as kubectl does: the error stream (closed at once, read to its end),
// then the data stream.
func forward(t *testing.T, conn *spdystream.Connection, port, requestID int) (data *spdystream.Stream, errorText <-chan string) {
	headers := http.Header{"streamtype": {streamTypeError}, "port": {fmt.Sprint(port)}, "requestid": {fmt.Sprint(requestID)}}
	errorStream := openStream(t, conn, headers)
	errorStream.Close()
	text := make(chan string, 1)
	go func() {
		message, _ := io.ReadAll(errorStream)
		text <- string(message)
	}()
	headers = http.Header{"streamtype": {streamTypeData}, "port": {fmt.Sprint(port)}, "requestid": {fmt.Sprint(requestID)}}
	return openStream(t, conn, headers), text
}

func TestPortForward(t *testing.T) {
	addr := startServer(t, 5*time.Second)
	echoPort := echoListener(t)
	response, conn := upgrade(t, addr, "/api/v1/namespaces/default/pods/web/portforward", []string{portForwardProtocolV1Name})
	if conn == nil || response.Header.Get(headerProtocolVersion) != portForwardProtocolV1Name {
		t.Fatalf("upgrade: %s %v", response.Status, response.Header)
	}

	// Two connections at once.
	var wg sync.WaitGroup
	for id := 0; id < 2; id++ {
		data, errorText := forward(t, conn, echoPort, id)
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			message := fmt.Sprintf("hello from %d", id)
			data.Write([]byte(message))
			buffer := make([]byte, len(message))
			if _, err := io.ReadFull(data, buffer); err != nil || string(buffer) != message {
				t.Errorf("request %d: echoed %q, %v", id, buffer, err)
			}
			data.Close()
			rest, _ := io.ReadAll(data)
			if len(rest) != 0 {
				t.Errorf("request %d: extra %q", id, rest)
			}
			select {
			case text := <-errorText:
				if text != "" {
					t.Errorf("request %d: error stream %q", id, text)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("request %d: the error stream did not end", id)
			}
		}(id)
	}
	wg.Wait()

	// A refused connection: the kubelet's message on the error stream.
	refused := closedPort(t)
	_, errorText := forward(t, conn, refused, 2)
	select {
	case text := <-errorText:
		prefix := fmt.Sprintf("error forwarding port %d to pod web, uid : failed to execute portforward in network namespace \"host\": failed to connect to localhost:%d", refused, refused)
		if !strings.HasPrefix(text, prefix) || !strings.Contains(text, "connection refused") {
			t.Errorf("refused: %q", text)
		}
	case <-time.After(5 * time.Second):
		t.Error("refused: no error")
	}

	// An invalid port is refused with RST_STREAM before any reply.
	stream, err := conn.CreateStream(http.Header{"streamtype": {streamTypeError}, "port": {"0"}, "requestid": {"3"}}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.WaitTimeout(5 * time.Second); err != spdystream.ErrReset {
		t.Errorf("port 0: %v", err)
	}
}

func TestPortForwardPairTimeout(t *testing.T) {
	addr := startServer(t, 300*time.Millisecond)
	_, conn := upgrade(t, addr, "/portforward/default/web", []string{portForwardProtocolV1Name})
	errorStream := openStream(t, conn, http.Header{"streamtype": {streamTypeError}, "port": {"80"}, "requestid": {"0"}})
	errorStream.Close()
	buffer := make([]byte, 256)
	n, _ := errorStream.Read(buffer)
	if !strings.HasSuffix(string(buffer[:n]), ", request=0) timed out waiting for streams") {
		t.Errorf("error stream %q", buffer[:n])
	}
}

func TestRoute(t *testing.T) {
	for path, want := range map[string][2]string{
		"/exec/default/web/main":                           {"exec", "web"},
		"/attach/default/web/uid/main":                     {"attach", "web"},
		"/portforward/default/web":                         {"portforward", "web"},
		"/exec/AbCdToken":                                  {"exec", "pod"},
		"/api/v1/namespaces/default/pods/web/exec":         {"exec", "web"},
		"/api/v1/namespaces/default/pods/exec/portforward": {"portforward", "exec"},
		"/version": {"", ""},
	} {
		operation, pod := route(path)
		if operation != want[0] || pod != want[1] {
			t.Errorf("route(%q) = %q, %q; want %q", path, operation, pod, want)
		}
	}
}
