// spdystream-server: a minimal SPDY/3 server on spdystream (github.com/moby/spdystream) for
// spdyspec (scripts/spdyspec-peers.sh). Unlike spdystream-peer's server it accepts any number
// of connections and streams: every stream gets SYN_REPLY (:status 200, :version HTTP/1.1)
// and a small body, GET /big 200 000 bytes; request bodies and HEADERS are read and dropped.
// spdystream drops DATA on a stream it has not replied to, so the reply goes out at once.
// There is no HTTP layer: every request is answered 200, also one without :method or :path.
//
//	spdystream-server      prints "PORT p" once listening on 127.0.0.1
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/moby/spdystream"
)

var (
	small = []byte("hello from spdystream\n")
	big   = make([]byte, 200000)
)

func handle(stream *spdystream.Stream) {
	// The handler runs on spdystream's frame worker: reply and read in goroutines.
	body := small
	if path := stream.Headers().Get(":path"); path == "/big" || len(path) > 4 && path[:5] == "/big?" {
		body = big
	}
	go func() {
		headers := http.Header{
			":status":        {"200"},
			":version":       {"HTTP/1.1"},
			"content-type":   {"application/octet-stream"},
			"content-length": {strconv.Itoa(len(body))},
		}
		if err := stream.SendReply(headers, false); err != nil {
			return
		}
		const chunk = 16 * 1024
		for offset := 0; offset < len(body); offset += chunk {
			end := offset + chunk
			if end > len(body) {
				end = len(body)
			}
			if _, err := stream.Write(body[offset:end]); err != nil {
				return
			}
		}
		stream.Close()
	}()
	// spdystream hands request DATA and HEADERS over unbuffered channels: drain both, or
	// its frame worker for this stream blocks.
	go io.Copy(io.Discard, stream)
	go func() {
		for {
			if _, err := stream.ReceiveHeader(); err != nil {
				return
			}
		}
	}()
}

func main() {
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("spdystream-server: cannot listen:", err)
		os.Exit(1)
	}
	fmt.Printf("PORT %d\n", listener.Addr().(*net.TCPAddr).Port)
	for {
		socket, err := listener.Accept()
		if err != nil {
			fmt.Println("spdystream-server: accept:", err)
			os.Exit(1)
		}
		go func() {
			conn, err := spdystream.NewConnection(socket, true)
			if err != nil {
				socket.Close()
				return
			}
			// Serve returns on GOAWAY (spdystream then shuts down by itself), EOF or a frame
			// its framer cannot read; Close sends GOAWAY unless one came, and shuts down.
			conn.Serve(handle)
			conn.Close()
			conn.Wait(5 * time.Second)
			socket.Close()
		}()
	}
}
