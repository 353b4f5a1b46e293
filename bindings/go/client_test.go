package logstashasync

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"
)

var timestampLayout = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func flush(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func extra(t *testing.T, ev map[string]any) map[string]any {
	t.Helper()
	x, ok := ev["extra"].(map[string]any)
	if !ok {
		t.Fatalf("no extra object in %v", ev)
	}
	return x
}

func TestClientEventsArriveInTheLogstashLayout(t *testing.T) {
	r := startReceiver(t, false)
	cfg := testConfig(r.port())
	cfg.Tags = []string{"go"}
	cfg.Extra = map[string]any{"application": "billing"}
	c := newClient(t, cfg)

	if err := c.SetExtra("request_id", "r-7"); err != nil {
		t.Fatal(err)
	}
	if err := c.Emit(map[string]any{"message": "signed in", "level": "WARNING", "user_id": 42}); err != nil {
		t.Fatal(err)
	}
	if err := c.Log("ERROR", "app.main", "disk almost full"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetExtra("request_id", nil); err != nil { // removes it again
		t.Fatal(err)
	}
	if err := c.EmitJSON([]byte(`{"message":"raw","@timestamp":"2024-01-02T03:04:05.678Z"}`)); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	evs := r.events(t, 3)

	e0, e1, e2 := evs[0], evs[1], evs[2]
	for _, e := range evs {
		if !timestampLayout.MatchString(fmt.Sprint(e["@timestamp"])) {
			t.Errorf("@timestamp %v is not UTC milliseconds", e["@timestamp"])
		}
		if e["@version"] != "1" || e["type"] != "python-logstash" || fmt.Sprint(e["tags"]) != "[go]" {
			t.Errorf("missing Logstash fields: %v", e)
		}
		if extra(t, e)["application"] != "billing" {
			t.Errorf("static extra missing: %v", e)
		}
	}
	if e0["message"] != "signed in" || e0["level"] != "WARNING" || extra(t, e0)["user_id"] != 42.0 ||
		extra(t, e0)["request_id"] != "r-7" {
		t.Errorf("Emit event: %v", e0)
	}
	if e1["message"] != "disk almost full" || e1["level"] != "ERROR" || extra(t, e1)["logger_name"] != "app.main" {
		t.Errorf("Log event: %v", e1)
	}
	if e2["message"] != "raw" || e2["level"] != "INFO" || e2["@timestamp"] != "2024-01-02T03:04:05.678Z" {
		t.Errorf("EmitJSON event: %v", e2)
	}
	if _, ok := extra(t, e2)["request_id"]; ok {
		t.Errorf("SetExtra(key, nil) did not remove the key: %v", e2)
	}

	s, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Emitted != 3 || s.Sent != 3 || s.Rejected != 0 {
		t.Errorf("stats: %+v", s)
	}
}

func TestHundredGoroutinesLoseNothing(t *testing.T) {
	const goroutines, each = 100, 100
	r := startReceiver(t, false)
	c := newClient(t, testConfig(r.port()))

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := c.Emit(map[string]any{"message": "m", "g": g, "i": i}); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	flush(t, c)

	seen := make(map[[2]int]bool)
	for _, e := range r.events(t, goroutines*each) {
		x := extra(t, e)
		seen[[2]int{int(x["g"].(float64)), int(x["i"].(float64))}] = true
	}
	if len(seen) != goroutines*each {
		t.Fatalf("%d distinct events arrived, want %d", len(seen), goroutines*each)
	}
	if s, _ := c.Stats(); s.Emitted != goroutines*each || s.DroppedQueueFull != 0 {
		t.Errorf("stats: %+v", s)
	}
}

func TestCallsAfterCloseReturnErrClosed(t *testing.T) {
	r := startReceiver(t, false)
	c, err := New(testConfig(r.port()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Log("INFO", "", "last words"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if len(r.events(t, 1)) != 1 {
		t.Fatal("Close did not deliver the queued event")
	}
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, statsErr := c.Stats()
	for name, err := range map[string]error{
		"Emit":     c.Emit(map[string]any{"message": "x"}),
		"EmitJSON": c.EmitJSON([]byte(`{}`)),
		"Log":      c.Log("INFO", "", "x"),
		"SetExtra": c.SetExtra("k", 1),
		"Flush":    c.Flush(context.Background()),
		"Stats":    statsErr,
	} {
		var e *Error
		if !errors.Is(err, ErrClosed) || !errors.As(err, &e) || e.Code != CodeShuttingDown {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestCloseNeverRacesInFlightCalls(t *testing.T) {
	r := startReceiver(t, true)
	c, err := New(testConfig(r.port()))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				err := c.Log("INFO", "", "racing")
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil && !errors.Is(err, ErrQueueFull) {
					t.Errorf("Log: %v", err)
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil && !errors.Is(err, ErrTimeout) {
		t.Errorf("close: %v", err)
	}
	wg.Wait()
}

func TestFinalizerShutsDownAForgottenClient(t *testing.T) {
	r := startReceiver(t, false)
	func() {
		c, err := New(testConfig(r.port()))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Log("INFO", "", "before being forgotten"); err != nil {
			t.Fatal(err)
		}
		flush(t, c) // connected and delivered; c is then unreachable
	}()
	// The finalizer's shutdown closes the connection: the receiver sees EOF.
	deadline := time.Now().Add(20 * time.Second)
	for r.closedByClient() == 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	if r.closedByClient() == 0 {
		t.Fatal("the forgotten Client was never shut down by its finalizer")
	}
}

func TestBadConfigurationReturnsTheLibrarysMessage(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Host: "127.0.0.1", Port: 70000}, "port: 70000 is out of range (1..=65535)"},
		{Config{}, "host: required (a host name or IP address) unless hosts is given"},
		{Config{Host: "h", Formatter: "xml"}, `formatter: unknown formatter "xml" (expected "logstash" or "ecs")`},
		{Config{Host: "h", Transport: "sctp"}, `transport: unknown transport "sctp" (expected "tcp", "udp", "beats", "http", "kafka" or "redis")`},
		{Config{Host: "h", CertFile: "/c.pem"}, "keyfile: required when certfile is given (a client certificate needs both)"},
	}
	for _, tc := range cases {
		c, err := New(tc.cfg)
		var ce *ConfigError
		if c != nil || !errors.As(err, &ce) || ce.Message != tc.want || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, %v; want the message %q", tc.cfg, c, err, tc.want)
		}
	}
	_, err := NewJSON([]byte(`{"host":"h","prot":1}`))
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Message != "prot: unknown option" {
		t.Errorf("unknown option: %v", err)
	}
}

func TestBadEventsAreRefusedWithTheirCode(t *testing.T) {
	cfg := testConfig(freePort(t))
	cfg.MaxEventBytes = 64
	c := newClient(t, cfg)
	cases := []struct {
		event []byte
		want  error
	}{
		{[]byte(`{"message":`), ErrInvalidJSON},
		{[]byte{}, ErrInvalidJSON},
		{[]byte(`[1,2]`), ErrNotAnObject},
		{[]byte("{\"message\":\"\xff\"}"), ErrInvalidUTF8},
		{[]byte(`{"message":"` + string(make([]byte, 100)) + `"}`), ErrEventTooLarge},
	}
	for _, tc := range cases {
		if err := c.EmitJSON(tc.event); !errors.Is(err, tc.want) {
			t.Errorf("EmitJSON(%q) = %v, want %v", tc.event, err, tc.want)
		}
	}
	if err := c.Emit(map[string]any{"f": func() {}}); !errors.Is(err, ErrInvalidJSON) {
		t.Errorf("Emit of a func: %v", err)
	}
	if err := c.SetExtra("", 1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("SetExtra with an empty key: %v", err)
	}
	if err := c.Log("INFO", "", "nul\x00inside"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Log with a NUL byte: %v", err)
	}
	if errors.Is(ErrQueueFull, ErrTimeout) {
		t.Error("distinct codes compare equal")
	}
}

func TestFlushAndCloseHonourTheContext(t *testing.T) {
	// Nothing listens: delivery cannot complete.
	c := newClient(t, testConfig(freePort(t)))
	if err := c.Log("INFO", "", "undeliverable"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	started := time.Now()
	err := c.Flush(ctx)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush past its deadline: %v", err)
	}
	if d := time.Since(started); d > 10*time.Second {
		t.Errorf("Flush took %v with a 300ms deadline", d)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel2() }()
	if err := c.Flush(ctx2); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush after cancel: %v", err)
	}

	ctx3, cancel3 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel3()
	started = time.Now()
	if err := c.Close(ctx3); !errors.Is(err, ErrTimeout) {
		t.Errorf("Close with an undeliverable event: %v, want ErrTimeout (lost with :memory:)", err)
	}
	if d := time.Since(started); d > 10*time.Second {
		t.Errorf("Close took %v with a 200ms deadline", d)
	}
}

func TestVersionAndCodes(t *testing.T) {
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(Version()) {
		t.Errorf("Version() = %q", Version())
	}
	if CodeQueueFull != 6 || CodeForked != 11 || CodeQueueFull.String() == "" {
		t.Error("result codes differ from the header")
	}
	err := error(&Error{Op: "emit", Code: CodeQueueFull})
	if !errors.Is(err, ErrQueueFull) || err.Error() != "logstash_async: emit: "+CodeQueueFull.String() {
		t.Errorf("error: %v", err)
	}
}

// Flush waits for the events emitted before it was called, not for those
// emitted while it waits: here the receiver has the first event and is then
// stopped, and an event emitted during the Flush can never be delivered.
func TestFlushDoesNotWaitForLaterEvents(t *testing.T) {
	r := startReceiver(t, false)
	c := newClient(t, testConfig(r.port()))
	if err := c.Log("INFO", "", "before the flush"); err != nil {
		t.Fatal(err)
	}
	flushMarked = func() {
		deadline := time.Now().Add(20 * time.Second)
		for s, _ := c.Stats(); s.Sent < 1 && time.Now().Before(deadline); s, _ = c.Stats() {
			time.Sleep(5 * time.Millisecond)
		}
		r.stop()
		if err := c.Log("INFO", "", "during the flush"); err != nil {
			t.Error(err)
		}
	}
	defer func() { flushMarked = nil }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush waited for an event emitted after it began: %v", err)
	}
	flushMarked = nil
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := c.Flush(short); !errors.Is(err, ErrTimeout) {
		t.Errorf("a second Flush (the later event is undeliverable): %v, want ErrTimeout", err)
	}
	closing, cancel3 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel3()
	_ = c.Close(closing)
}
