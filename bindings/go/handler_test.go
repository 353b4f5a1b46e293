//go:build go1.21

package logstashasync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"
)

func TestHandlerEventsArriveInTheLogstashLayout(t *testing.T) {
	r := startReceiver(t, false)
	c := newClient(t, testConfig(r.port()))
	h := NewHandler(c, &HandlerOptions{Level: slog.LevelDebug, AddSource: true, LoggerName: "billing.api"})
	logger := slog.New(h).With("svc", "api").WithGroup("req")

	_, file, line, _ := runtime.Caller(0)
	logger.Info("served", "status", 200, slog.Group("user", "id", 7, "admin", true), "took", 1500*time.Microsecond)

	// A record with a chosen time: @timestamp is the record's, in UTC, milliseconds truncated.
	at := time.Date(2024, 5, 6, 7, 8, 9, 123987654, time.FixedZone("CET", 3600))
	rec := slog.NewRecord(at, slog.LevelWarn, "fixed time", 0)
	rec.AddAttrs(slog.String("quote", "a \"b\"\n\x01"), slog.Float64("ratio", 0.25))
	if err := h.Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	for _, lv := range []slog.Level{slog.LevelDebug, slog.LevelError, slog.LevelError + 4} {
		slog.New(h).Log(context.Background(), lv, "level "+lv.String())
	}
	// Level filtering: the default minimum is Info.
	quiet := slog.New(NewHandler(c, nil))
	quiet.Debug("filtered out")
	quiet.Info("kept", "k", "v")
	flush(t, c)

	evs := r.events(t, 6)
	if len(evs) != 6 {
		t.Fatalf("%d events, want 6 (Debug below the minimum must be dropped)", len(evs))
	}
	e := evs[0]
	x := extra(t, e)
	req, _ := x["req"].(map[string]any)
	user, _ := req["user"].(map[string]any)
	if e["message"] != "served" || e["level"] != "INFO" || !timestampLayout.MatchString(e["@timestamp"].(string)) ||
		x["svc"] != "api" || req["status"] != 200.0 || req["took"] != 1.5e6 ||
		user["id"] != 7.0 || user["admin"] != true || x["logger_name"] != "billing.api" {
		t.Errorf("slog event: %v", e)
	}
	if !strings.HasSuffix(x["func_name"].(string), ".TestHandlerEventsArriveInTheLogstashLayout") ||
		x["path"] != file || x["line"] != float64(line+1) {
		t.Errorf("source fields: func_name=%v path=%v line=%v, want %s:%d", x["func_name"], x["path"], x["line"], file, line+1)
	}

	e = evs[1]
	x = extra(t, e)
	if e["@timestamp"] != "2024-05-06T06:08:09.123Z" || e["level"] != "WARNING" || e["message"] != "fixed time" ||
		x["quote"] != "a \"b\"\n\x01" || x["ratio"] != 0.25 {
		t.Errorf("record with a fixed time: %v", e)
	}
	if _, ok := x["func_name"]; ok {
		t.Errorf("source fields for a zero PC: %v", x)
	}
	for i, want := range []string{"DEBUG", "ERROR", "CRITICAL"} {
		if evs[2+i]["level"] != want {
			t.Errorf("level: got %v, want %s", evs[2+i]["level"], want)
		}
	}
	if evs[5]["message"] != "kept" || extra(t, evs[5])["k"] != "v" {
		t.Errorf("default handler event: %v", evs[5])
	}
}

func TestHandlerWithTopLevelExtras(t *testing.T) {
	r := startReceiver(t, false)
	cfg := testConfig(r.port())
	cfg.ExtraPrefix = String("")
	c := newClient(t, cfg)
	slog.New(NewHandler(c, nil)).WithGroup("g").Info("top", "k", 1)
	flush(t, c)
	e := r.events(t, 1)[0]
	if g, _ := e["g"].(map[string]any); e["message"] != "top" || g["k"] != 1.0 || e["extra"] != nil {
		t.Errorf("with extra_prefix \"\": %v", e)
	}
}

func TestHandlerHundredGoroutinesLoseNothing(t *testing.T) {
	const goroutines, each = 100, 50
	r := startReceiver(t, false)
	c := newClient(t, testConfig(r.port()))
	logger := slog.New(NewHandler(c, nil))
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			l := logger.With("g", g)
			for i := 0; i < each; i++ {
				l.Info("concurrent", "i", i)
			}
		}(g)
	}
	wg.Wait()
	flush(t, c)
	seen := make(map[[2]float64]bool)
	for _, e := range r.events(t, goroutines*each) {
		x := extra(t, e)
		seen[[2]float64{x["g"].(float64), x["i"].(float64)}] = true
	}
	if len(seen) != goroutines*each {
		t.Fatalf("%d distinct events arrived, want %d", len(seen), goroutines*each)
	}
}

func TestHandlerReportsClientErrors(t *testing.T) {
	c, err := New(testConfig(freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(context.Background())
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "late", 0)
	if err := NewHandler(c, nil).Handle(context.Background(), rec); !errors.Is(err, ErrClosed) {
		t.Errorf("Handle after Close: %v", err)
	}
}

// TestSlogtest runs the standard library's conformance tests for handlers,
// reading back what the receiver got and mapping the Logstash layout to the
// keys slogtest expects.
func TestSlogtest(t *testing.T) {
	r := startReceiver(t, false)
	c := newClient(t, testConfig(r.port()))
	rec := &timeRecorder{Handler: NewHandler(c, &HandlerOptions{AddSource: true}), times: &recordTimes{}}

	err := slogtest.TestHandler(rec, func() []map[string]any {
		flush(t, c)
		times := rec.times.all()
		evs := r.events(t, len(times))
		out := make([]map[string]any, len(evs))
		for i, e := range evs {
			out[i] = slogLayout(t, e, times[i])
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
}

// slogLayout maps a received event back to slog's keys: the extra fields at
// the top, "msg", "level", "source", and "time" only if @timestamp is the
// record's own time (so a zero time that leaked through would be caught).
func slogLayout(t *testing.T, e map[string]any, recordTime time.Time) map[string]any {
	m := extra(t, e)
	m[slog.MessageKey] = e["message"]
	m[slog.LevelKey] = e["level"]
	if e["@timestamp"] == recordTime.UTC().Format("2006-01-02T15:04:05.000Z") {
		m[slog.TimeKey] = e["@timestamp"]
	}
	if fn, ok := m["func_name"]; ok {
		m[slog.SourceKey] = map[string]any{"function": fn, "file": m["path"], "line": m["line"]}
		delete(m, "func_name")
		delete(m, "path")
		delete(m, "line")
	}
	return m
}

// timeRecorder remembers each record's time, in order, and passes it on.
type timeRecorder struct {
	slog.Handler
	times *recordTimes
}

type recordTimes struct {
	mu sync.Mutex
	ts []time.Time
}

func (r *recordTimes) all() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.ts...)
}

func (h *timeRecorder) Handle(ctx context.Context, r slog.Record) error {
	h.times.mu.Lock()
	h.times.ts = append(h.times.ts, r.Time)
	h.times.mu.Unlock()
	return h.Handler.Handle(ctx, r)
}

func (h *timeRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &timeRecorder{h.Handler.WithAttrs(attrs), h.times}
}

func (h *timeRecorder) WithGroup(name string) slog.Handler {
	return &timeRecorder{h.Handler.WithGroup(name), h.times}
}

// ReplaceAttr sees every attribute with its groups (WithGroup, Group
// values, WithAttrs) and the built-ins; it rewrites, renames and drops them.
func TestHandlerReplaceAttr(t *testing.T) {
	r := startReceiver(t, false)
	c := newClient(t, testConfig(r.port()))
	type seen struct {
		groups string
		key    string
	}
	var mu sync.Mutex
	var calls []seen
	replace := func(groups []string, a slog.Attr) slog.Attr {
		mu.Lock()
		calls = append(calls, seen{strings.Join(groups, "."), a.Key})
		mu.Unlock()
		switch {
		case a.Key == "password":
			return slog.Attr{} // dropped
		case a.Key == "user" && len(groups) > 0:
			return slog.String("user", "<redacted>")
		case a.Key == slog.MessageKey:
			return slog.String(slog.MessageKey, "msg: "+a.Value.String())
		case a.Key == slog.LevelKey:
			return slog.String(slog.LevelKey, "NOTICE") // a level name as a string
		case a.Key == slog.SourceKey:
			return slog.Attr{}
		case a.Key == slog.TimeKey:
			return slog.Time("at", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) // renamed: an ordinary attribute
		}
		return a
	}
	h := NewHandler(c, &HandlerOptions{AddSource: true, ReplaceAttr: replace})
	logger := slog.New(h).With("password", "hunter2", "app", "shop").WithGroup("req")
	logger.Info("login", "user", "ada", slog.Group("auth", "password", "x", "method", "otp"))
	flush(t, c)

	e := r.events(t, 1)[0]
	x := extra(t, e)
	req, _ := x["req"].(map[string]any)
	auth, _ := req["auth"].(map[string]any)
	if e["message"] != "msg: login" || e["level"] != "NOTICE" || x["at"] != "2024-01-02T03:04:05Z" ||
		x["password"] != nil || x["app"] != "shop" || req["user"] != "<redacted>" ||
		auth["password"] != nil || auth["method"] != "otp" || x["func_name"] != nil {
		t.Errorf("event: %v", e)
	}
	if !timestampLayout.MatchString(e["@timestamp"].(string)) {
		t.Errorf("@timestamp (stamped by the library when time is renamed): %v", e["@timestamp"])
	}
	want := []seen{{"", "password"}, {"", "app"}, {"", slog.TimeKey}, {"", slog.LevelKey},
		{"", slog.MessageKey}, {"", slog.SourceKey}, {"req", "user"}, {"req.auth", "password"}, {"req.auth", "method"}}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("ReplaceAttr calls:\n got %v\nwant %v", calls, want)
	}
}

// slogtest passes with a ReplaceAttr that changes nothing.
func TestSlogtestWithReplaceAttr(t *testing.T) {
	r := startReceiver(t, false)
	c := newClient(t, testConfig(r.port()))
	identity := func(_ []string, a slog.Attr) slog.Attr { return a }
	rec := &timeRecorder{Handler: NewHandler(c, &HandlerOptions{AddSource: true, ReplaceAttr: identity}), times: &recordTimes{}}
	err := slogtest.TestHandler(rec, func() []map[string]any {
		flush(t, c)
		times := rec.times.all()
		evs := r.events(t, len(times))
		out := make([]map[string]any, len(evs))
		for i, e := range evs {
			out[i] = slogLayout(t, e, times[i])
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
}
