// spdystream-peer: the spdystream (github.com/moby/spdystream, SPDY/3) side of the interop
// suite (Interop/run.sh).
//
//	spdystream-peer server          serves one connection (prints "PORT p" first)
//	spdystream-peer client PORT     runs the scenario against our server
//
// Every check prints one line; the exit status is 0 when all passed.
package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// pattern is the suite's body pattern: byte i of a body with seed s is (i + s) % 251.
func pattern(size, seed int) []byte {
	body := make([]byte, size)
	for i := range body {
		body[i] = byte((i + seed) % 251)
	}
	return body
}

// firstMismatch is the first offset that breaks the pattern, or -1.
func firstMismatch(body []byte, seed int) int {
	for i, b := range body {
		if b != byte((i+seed)%251) {
			return i
		}
	}
	return -1
}

type checks struct {
	sync.Mutex
	prefix   string
	passes   int
	failures []string
}

func (c *checks) check(ok bool, what string, detail string) {
	c.Lock()
	defer c.Unlock()
	if ok {
		c.passes++
		fmt.Printf("%s: ok   %s\n", c.prefix, what)
		return
	}
	text := what
	if detail != "" {
		text += ": " + detail
	}
	c.failures = append(c.failures, text)
	fmt.Printf("%s: FAIL %s\n", c.prefix, text)
}

func (c *checks) finish() {
	c.Lock()
	defer c.Unlock()
	if len(c.failures) == 0 {
		fmt.Printf("%s: all %d checks passed\n", c.prefix, c.passes)
		os.Exit(0)
	}
	fmt.Printf("%s: %d of %d checks failed: %s\n", c.prefix, len(c.failures), len(c.failures)+c.passes,
		strings.Join(c.failures, "; "))
	os.Exit(1)
}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "server" {
		server()
	} else if len(os.Args) >= 3 && os.Args[1] == "client" {
		client(os.Args[2])
	} else {
		fmt.Println("usage: spdystream-peer server | client PORT")
		os.Exit(2)
	}
}
