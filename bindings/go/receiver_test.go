package logstashasync

import (
	"bufio"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"
)

// receiver is a real Logstash stand-in on 127.0.0.1: it accepts TCP
// connections and keeps every JSON line it reads (or only counts them).
type receiver struct {
	ln      net.Listener
	discard bool

	mu    sync.Mutex
	lines [][]byte
	count int
	ended int // connections the client closed
	conns []net.Conn
	wg    sync.WaitGroup
}

func startReceiver(tb testing.TB, discard bool) *receiver {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &receiver{ln: ln, discard: discard}
	r.wg.Add(1)
	go r.accept()
	tb.Cleanup(r.stop)
	return r
}

func (r *receiver) port() int { return r.ln.Addr().(*net.TCPAddr).Port }

func (r *receiver) accept() {
	defer r.wg.Done()
	for {
		conn, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, conn)
		r.mu.Unlock()
		r.wg.Add(1)
		go r.read(conn)
	}
}

func (r *receiver) read(conn net.Conn) {
	defer r.wg.Done()
	// Closing on EOF answers the client's clean shutdown, as Logstash does.
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
	r.mu.Lock()
	r.ended++
	r.mu.Unlock()
}

// closedByClient is the number of connections that reached EOF.
func (r *receiver) closedByClient() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
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

// received is the number of lines read so far.
func (r *receiver) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// events waits (boundedly) until at least n lines arrived and returns them all, parsed.
func (r *receiver) events(tb testing.TB, n int) []map[string]any {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.received() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.mu.Lock()
	lines := append([][]byte(nil), r.lines...)
	r.mu.Unlock()
	if len(lines) < n {
		tb.Fatalf("received %d events, want %d", len(lines), n)
	}
	out := make([]map[string]any, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal(l, &out[i]); err != nil {
			tb.Fatalf("line %d is not a JSON object: %v: %s", i, err, l)
		}
	}
	return out
}

// testConfig is a configuration for a client sending to port quickly.
func testConfig(port int) Config {
	return Config{
		Host:                      "127.0.0.1",
		Port:                      port,
		QueuedEventsFlushInterval: Float(0.05),
		BackoffInitial:            0.05,
		BackoffMax:                0.2,
		StderrErrors:              Bool(false),
	}
}

// freePort is a port nothing listens on (it was free a moment ago).
func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
