package zaplogstash

import (
	"bufio"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"
)

// receiver is a Logstash stand-in on 127.0.0.1: it keeps every JSON line
// of every TCP connection (or, discarding, only counts them).
type receiver struct {
	ln      net.Listener
	discard bool
	mu      sync.Mutex
	lines   [][]byte
	count   int
	conns   []net.Conn
	wg      sync.WaitGroup
}

func startReceiver(tb testing.TB, discard bool) *receiver {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &receiver{ln: ln, discard: discard}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, conn)
			r.mu.Unlock()
			r.wg.Add(1)
			go r.read(conn)
		}
	}()
	tb.Cleanup(r.stop)
	return r
}

func (r *receiver) port() int { return r.ln.Addr().(*net.TCPAddr).Port }

func (r *receiver) read(conn net.Conn) {
	defer r.wg.Done()
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		r.mu.Lock()
		r.count++
		if !r.discard {
			r.lines = append(r.lines, append([]byte(nil), sc.Bytes()...))
		}
		r.mu.Unlock()
	}
}

func (r *receiver) stop() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// events waits (boundedly) for at least n lines and returns them all, parsed.
func (r *receiver) events(tb testing.TB, n int) []map[string]any {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		lines := append([][]byte(nil), r.lines...)
		r.mu.Unlock()
		if len(lines) >= n || time.Now().After(deadline) {
			if len(lines) < n {
				tb.Fatalf("received %d events, want %d", len(lines), n)
			}
			out := make([]map[string]any, len(lines))
			for i, l := range lines {
				if err := json.Unmarshal(l, &out[i]); err != nil {
					tb.Fatalf("line %d: %v: %s", i, err, l)
				}
			}
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
}
