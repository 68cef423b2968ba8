package main

// exec and attach, ported from k8s.io/kubelet/pkg/cri/streaming/remotecommand (httpstream.go,
// exec.go, attach.go) as of Kubernetes 1.35, the last release before that package moved to
// k8s.io/cri-streaming. The status types mirror k8s.io/apimachinery metav1.Status, field
// for field and tag for tag, so encoding/json produces the kubelet's bytes.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/moby/spdystream"
)

const (
	streamProtocolV1Name = "channel.k8s.io"
	streamProtocolV2Name = "v2.channel.k8s.io"
	streamProtocolV3Name = "v3.channel.k8s.io"
	streamProtocolV4Name = "v4.channel.k8s.io"

	streamTypeError  = "error"
	streamTypeStdin  = "stdin"
	streamTypeStdout = "stdout"
	streamTypeStderr = "stderr"
	streamTypeResize = "resize"
	streamTypeData   = "data"

	nonZeroExitCodeReason = "NonZeroExitCode"
	exitCodeCauseType     = "ExitCode"
)

// supportedStreamingProtocols is remotecommand.SupportedStreamingProtocols, the kubelet's
// default (streaming.DefaultConfig.SupportedRemoteCommandProtocols).
var supportedStreamingProtocols = []string{streamProtocolV4Name, streamProtocolV3Name, streamProtocolV2Name, streamProtocolV1Name}

// --- metav1.Status ---------------------------------------------------------------------------

type listMeta struct {
	SelfLink           string `json:"selfLink,omitempty"`
	ResourceVersion    string `json:"resourceVersion,omitempty"`
	Continue           string `json:"continue,omitempty"`
	RemainingItemCount *int64 `json:"remainingItemCount,omitempty"`
}

type statusCause struct {
	Type    string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

type statusDetails struct {
	Name              string        `json:"name,omitempty"`
	Group             string        `json:"group,omitempty"`
	Kind              string        `json:"kind,omitempty"`
	UID               string        `json:"uid,omitempty"`
	Causes            []statusCause `json:"causes,omitempty"`
	RetryAfterSeconds int32         `json:"retryAfterSeconds,omitempty"`
}

type status struct {
	Kind       string         `json:"kind,omitempty"`
	APIVersion string         `json:"apiVersion,omitempty"`
	Metadata   listMeta       `json:"metadata,omitempty"`
	Status     string         `json:"status,omitempty"`
	Message    string         `json:"message,omitempty"`
	Reason     string         `json:"reason,omitempty"`
	Details    *statusDetails `json:"details,omitempty"`
	Code       int32          `json:"code,omitempty"`
}

// statusError is apierrors.StatusError; Error() is the status message.
type statusError struct{ ErrStatus status }

func (e *statusError) Error() string { return e.ErrStatus.Message }

// newInternalError is apierrors.NewInternalError.
func newInternalError(err error) *statusError {
	return &statusError{status{
		Status:  "Failure",
		Code:    http.StatusInternalServerError,
		Reason:  "InternalError",
		Details: &statusDetails{Causes: []statusCause{{Message: err.Error()}}},
		Message: fmt.Sprintf("Internal error occurred: %v", err),
	}}
}

// --- Options ---------------------------------------------------------------------------------

type options struct {
	Stdin, Stdout, Stderr, TTY bool
}

// queryFlag is the kubelet's `req.FormValue(param) == "1"`, also accepting the API server's
// "true" so clients can talk to this peer with the URLs they send to an API server.
func queryFlag(req *http.Request, name string) bool {
	value := req.FormValue(name)
	return value == "1" || value == "true"
}

// newOptions is remotecommand.NewOptions.
func newOptions(req *http.Request) (*options, error) {
	tty := queryFlag(req, "tty")
	stdin := queryFlag(req, "stdin")
	stdout := queryFlag(req, "stdout")
	stderr := queryFlag(req, "stderr")
	if tty && stderr {
		logf("access to exec with tty and stderr is not supported, bypassing stderr")
		stderr = false
	}
	if !stdin && !stdout && !stderr {
		return nil, fmt.Errorf("you must specify at least 1 of stdin, stdout, stderr")
	}
	return &options{Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: tty}, nil
}

// --- Streams ---------------------------------------------------------------------------------

type terminalSize struct {
	Width  uint16
	Height uint16
}

type connectionContext struct {
	conn         *spdyConnection
	stdinStream  *spdystream.Stream
	stdoutStream *spdystream.Stream
	stderrStream *spdystream.Stream
	writeStatus  func(status *statusError) error
	resizeStream *spdystream.Stream
	resizeChan   chan terminalSize
	tty          bool
}

type streamAndReply struct {
	*spdystream.Stream
	replySent <-chan struct{}
}

func waitStreamReply(replySent <-chan struct{}, notify chan<- struct{}, stop <-chan struct{}) {
	select {
	case <-replySent:
		notify <- struct{}{}
	case <-stop:
	}
}

func (s *server) createStreams(req *http.Request, w http.ResponseWriter, opts *options) (*connectionContext, bool) {
	protocol, err := handshake(req, w, supportedStreamingProtocols)
	if err != nil {
		logf("handshake failed: %v", err)
		return nil, false
	}

	streamCh := make(chan streamAndReply)
	conn := upgradeResponse(w, req, func(stream *spdystream.Stream, replySent <-chan struct{}) error {
		streamCh <- streamAndReply{Stream: stream, replySent: replySent}
		return nil
	})
	if conn == nil {
		return nil, false
	}
	conn.SetIdleTimeout(s.idleTimeout)

	// protocol is never "" here: handshake insists on X-Stream-Protocol-Version.
	expectedStreams := 1
	if opts.Stdin {
		expectedStreams++
	}
	if opts.Stdout {
		expectedStreams++
	}
	if opts.Stderr {
		expectedStreams++
	}
	if opts.TTY && supportsTerminalResizing(protocol) {
		expectedStreams++
	}
	logf("waiting for %d streams (%s, stdin=%t stdout=%t stderr=%t tty=%t)", expectedStreams, protocol, opts.Stdin, opts.Stdout, opts.Stderr, opts.TTY)

	expired := time.NewTimer(s.streamCreationTimeout)
	defer expired.Stop()

	ctx, err := waitForStreams(protocol, streamCh, expectedStreams, expired.C)
	if err != nil {
		// As the kubelet: log only, and leave the connection open (nothing closes it).
		logf("%v (the connection stays open, as with the kubelet)", err)
		return nil, false
	}
	ctx.conn = conn
	ctx.tty = opts.TTY

	if ctx.resizeStream != nil {
		ctx.resizeChan = make(chan terminalSize)
		go handleResizeEvents(req.Context(), ctx.resizeStream, ctx.resizeChan)
	}
	return ctx, true
}

func supportsTerminalResizing(protocol string) bool {
	return protocol == streamProtocolV4Name || protocol == streamProtocolV3Name
}

// waitForStreams merges the kubelet's four protocol handlers, which differ only in the error
// stream's writer (v4: JSON Status; v1-v3: the message, on failure only), whether a resize
// stream is accepted (v3, v4) and v1's quirks (the error stream is reset and stdin closed as
// soon as the streams are there).
func waitForStreams(protocol string, streams <-chan streamAndReply, expectedStreams int, expired <-chan time.Time) (*connectionContext, error) {
	ctx := &connectionContext{}
	receivedStreams := 0
	replyChan := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	var v1ErrorStreams []*spdystream.Stream
	defer func() {
		for _, stream := range v1ErrorStreams {
			stream.Reset()
		}
	}()
WaitForStreams:
	for {
		select {
		case stream := <-streams:
			streamType := stream.Headers().Get("streamtype")
			logf("stream %d: streamtype=%q", stream.Identifier(), streamType)
			switch {
			case streamType == streamTypeError:
				if protocol == streamProtocolV4Name {
					ctx.writeStatus = v4WriteStatusFunc(stream.Stream)
				} else {
					ctx.writeStatus = v1WriteStatusFunc(stream.Stream)
				}
				if protocol == streamProtocolV1Name {
					v1ErrorStreams = append(v1ErrorStreams, stream.Stream)
				}
				go waitStreamReply(stream.replySent, replyChan, stop)
			case streamType == streamTypeStdin:
				ctx.stdinStream = stream.Stream
				go waitStreamReply(stream.replySent, replyChan, stop)
			case streamType == streamTypeStdout:
				ctx.stdoutStream = stream.Stream
				go waitStreamReply(stream.replySent, replyChan, stop)
			case streamType == streamTypeStderr:
				ctx.stderrStream = stream.Stream
				go waitStreamReply(stream.replySent, replyChan, stop)
			case streamType == streamTypeResize && supportsTerminalResizing(protocol):
				ctx.resizeStream = stream.Stream
				go waitStreamReply(stream.replySent, replyChan, stop)
			default:
				logf("unexpected stream type: %q", streamType)
			}
		case <-replyChan:
			receivedStreams++
			if receivedStreams == expectedStreams {
				break WaitForStreams
			}
		case <-expired:
			return nil, errors.New("timed out waiting for client to create streams")
		}
	}

	if protocol == streamProtocolV1Name && ctx.stdinStream != nil {
		ctx.stdinStream.Close()
	}
	return ctx, nil
}

func handleResizeEvents(reqctx context.Context, stream io.Reader, channel chan<- terminalSize) {
	defer close(channel)

	decoder := json.NewDecoder(stream)
	for {
		size := terminalSize{}
		if err := decoder.Decode(&size); err != nil {
			if err != io.EOF {
				logf("resize stream: %v", err)
			}
			break
		}
		logf("resize %dx%d", size.Width, size.Height)
		select {
		case channel <- size:
		case <-reqctx.Done():
			return
		}
	}
}

func v1WriteStatusFunc(stream io.Writer) func(status *statusError) error {
	return func(status *statusError) error {
		if status.ErrStatus.Status == "Success" {
			return nil
		}
		_, err := stream.Write([]byte(status.Error()))
		return err
	}
}

func v4WriteStatusFunc(stream io.Writer) func(status *statusError) error {
	return func(status *statusError) error {
		bs, err := json.Marshal(status.ErrStatus)
		if err != nil {
			return err
		}
		_, err = stream.Write(bs)
		return err
	}
}

// sendStatus logs what goes on the error stream, then writes it. A client that opened no
// error stream leaves writeStatus nil: the kubelet then panics (net/http recovers; the
// deferred conn.Close still runs), this peer only logs; the frames are the same.
func (ctx *connectionContext) sendStatus(st *statusError) {
	text, _ := json.Marshal(st.ErrStatus)
	logf("status: %s", text)
	if ctx.writeStatus == nil {
		logf("no error stream to write the status on")
		return
	}
	if err := ctx.writeStatus(st); err != nil {
		logf("writing the status: %v", err)
	}
}

// --- ServeExec / ServeAttach ----------------------------------------------------------------

func (s *server) serveExec(w http.ResponseWriter, req *http.Request, opts *options, cmd []string) {
	ctx, ok := s.createStreams(req, w, opts)
	if !ok {
		return
	}
	defer func() {
		ctx.conn.Close()
		logf("exec %q: connection closed", cmd)
	}()

	logf("exec %q", cmd)
	err := execInContainer(req.Context(), cmd, ctx.ioFor(), false)
	if err != nil {
		var exitErr *codeExitError
		if errors.As(err, &exitErr) {
			rc := exitErr.ExitStatus()
			logf("exec %q: exit code %d", cmd, rc)
			ctx.sendStatus(&statusError{status{
				Status:  "Failure",
				Reason:  nonZeroExitCodeReason,
				Details: &statusDetails{Causes: []statusCause{{Type: exitCodeCauseType, Message: fmt.Sprintf("%d", rc)}}},
				Message: fmt.Sprintf("command terminated with non-zero exit code: %v", exitErr),
			}})
		} else {
			err = fmt.Errorf("error executing command in container: %v", err)
			logf("exec %q: %v", cmd, err)
			ctx.sendStatus(newInternalError(err))
		}
	} else {
		logf("exec %q: exit code 0", cmd)
		ctx.sendStatus(&statusError{status{Status: "Success"}})
	}
}

func (s *server) serveAttach(w http.ResponseWriter, req *http.Request, opts *options, cmd []string) {
	ctx, ok := s.createStreams(req, w, opts)
	if !ok {
		return
	}
	defer func() {
		ctx.conn.Close()
		logf("attach: connection closed")
	}()

	logf("attach (container process %q)", cmd)
	err := execInContainer(req.Context(), cmd, ctx.ioFor(), true)
	if err != nil {
		err = fmt.Errorf("error attaching to container: %v", err)
		logf("%v", err)
		ctx.sendStatus(newInternalError(err))
	} else {
		ctx.sendStatus(&statusError{status{Status: "Success"}})
	}
}

// ioFor hands the runtime the streams as the kubelet does: absent ones stay nil.
func (ctx *connectionContext) ioFor() execIO {
	io := execIO{tty: ctx.tty}
	if ctx.stdinStream != nil {
		io.stdin = ctx.stdinStream
	}
	if ctx.stdoutStream != nil {
		io.stdout = ctx.stdoutStream
	}
	if ctx.stderrStream != nil {
		io.stderr = ctx.stderrStream
	}
	if ctx.resizeChan != nil {
		io.resize = ctx.resizeChan
	}
	return io
}
