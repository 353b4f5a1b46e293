package zaplogstash

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	logstashasync "github.com/logstash-async/logstash-async/bindings/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

var timestampPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func newClient(tb testing.TB, port int, cfg logstashasync.Config) *logstashasync.Client {
	tb.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", port
	cfg.QueuedEventsFlushInterval = logstashasync.Float(0.05)
	cfg.BackoffInitial, cfg.BackoffMax = 0.05, 0.2
	cfg.StderrErrors = logstashasync.Bool(false)
	c, err := logstashasync.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func extra(t *testing.T, ev map[string]any) map[string]any {
	t.Helper()
	x, ok := ev["extra"].(map[string]any)
	if !ok {
		t.Fatalf("no extra object in %v", ev)
	}
	return x
}

// A real zap logger over the core, through the library to a loopback
// receiver: levels, names, With fields, namespaces, caller, stack, errors.
func TestZapLoggerEventsArriveInTheLogstashLayout(t *testing.T) {
	r := startReceiver(t, false)
	c := newClient(t, r.port(), logstashasync.Config{Tags: []string{"zap"}})
	level := zap.NewAtomicLevelAt(zapcore.DebugLevel)
	logger := zap.New(NewCore(c, &Options{Level: level}), zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel)).
		Named("billing").With(zap.String("svc", "api"))

	_, file, line, _ := runtime.Caller(0)
	logger.Info("served", zap.Int("status", 200), zap.Duration("took", 1500*time.Microsecond),
		zap.Namespace("req"), zap.String("id", "r-7"), zap.Bool("cached", true))
	logger.Debug("debugging")
	logger.Warn("slow")
	_, err := os.Open("/nonexistent/file")
	logger.Error("open failed", zap.Error(err))
	logger.Named("sub").Info("child logger")
	level.SetLevel(zapcore.WarnLevel)
	logger.Info("filtered out")
	logger.DPanic("dpanic is not fatal in production") // CRITICAL
	if err := logger.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}

	evs := r.events(t, 6)
	if len(evs) != 6 {
		t.Fatalf("%d events, want 6 (Info below Warn is dropped)", len(evs))
	}
	for _, e := range evs {
		if !timestampPattern.MatchString(e["@timestamp"].(string)) || e["type"] != "python-logstash" ||
			e["tags"] == nil || extra(t, e)["svc"] != "api" {
			t.Errorf("common fields: %v", e)
		}
	}
	e, x := evs[0], extra(t, evs[0])
	req, _ := x["req"].(map[string]any)
	if e["message"] != "served" || e["level"] != "INFO" || x["logger_name"] != "billing" ||
		x["status"] != 200.0 || x["took"] != 1.5e6 || req["id"] != "r-7" || req["cached"] != true {
		t.Errorf("info event: %v", e)
	}
	if x["path"] != file || x["line"] != float64(line+1) ||
		!strings.HasSuffix(x["func_name"].(string), ".TestZapLoggerEventsArriveInTheLogstashLayout") {
		t.Errorf("caller: path=%v line=%v func_name=%v, want %s:%d (%v)", x["path"], x["line"], x["func_name"], file, line+1, e)
	}
	if _, ok := x["stack_trace"]; ok {
		t.Errorf("a stack below ErrorLevel: %v", x)
	}
	if evs[1]["level"] != "DEBUG" || evs[2]["level"] != "WARNING" {
		t.Errorf("levels: %v %v", evs[1]["level"], evs[2]["level"])
	}
	e, x = evs[3], extra(t, evs[3])
	if e["level"] != "ERROR" || !strings.Contains(x["error"].(string), "no such file") ||
		x["error_type"] != "*fs.PathError" || !strings.Contains(x["stack_trace"].(string), "core_test.go") {
		t.Errorf("error event: %v", e)
	}
	if extra(t, evs[4])["logger_name"] != "billing.sub" {
		t.Errorf("named child: %v", evs[4])
	}
	if evs[5]["level"] != "CRITICAL" {
		t.Errorf("DPanic: %v", evs[5])
	}
	var pathErr *fs.PathError
	if !errors.As(err, &pathErr) {
		t.Fatal("the test's error is not a *fs.PathError")
	}
}

// With fields are copied: loggers derived from one another do not share them.
func TestWithFieldsAreIndependent(t *testing.T) {
	r := startReceiver(t, false)
	c := newClient(t, r.port(), logstashasync.Config{ExtraPrefix: logstashasync.String("")})
	base := zap.New(NewCore(c, nil))
	a := base.With(zap.String("a", "1"))
	b := base.With(zap.String("b", "2"))
	a.Info("from a")
	b.Info("from b")
	base.Info("from base", zap.Strings("list", []string{"x"}))
	if err := base.Sync(); err != nil {
		t.Fatal(err)
	}
	evs := r.events(t, 3)
	if evs[0]["a"] != "1" || evs[0]["b"] != nil || evs[1]["b"] != "2" || evs[1]["a"] != nil ||
		evs[2]["a"] != nil || evs[2]["extra"] != nil || evs[2]["list"] == nil {
		t.Errorf("events (top-level extras): %v", evs)
	}
}

// The Client's errors reach zap (which reports them on its ErrorOutput).
func TestWriteReturnsTheClientsError(t *testing.T) {
	c, err := logstashasync.New(logstashasync.Config{Host: "127.0.0.1", Port: 9, StderrErrors: logstashasync.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(context.Background())
	core := NewCore(c, nil)
	err = core.Write(zapcore.Entry{Level: zapcore.InfoLevel, Message: "late", Time: time.Now()}, nil)
	if !errors.Is(err, logstashasync.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if !errors.Is(core.Sync(), logstashasync.ErrClosed) {
		t.Error("Sync after Close")
	}
}

func TestLevelNames(t *testing.T) {
	want := map[zapcore.Level]string{zapcore.DebugLevel: "DEBUG", zapcore.InfoLevel: "INFO",
		zapcore.WarnLevel: "WARNING", zapcore.ErrorLevel: "ERROR", zapcore.DPanicLevel: "CRITICAL",
		zapcore.PanicLevel: "CRITICAL", zapcore.FatalLevel: "CRITICAL"}
	for l, name := range want {
		if got := LevelName(l); got != name {
			t.Errorf("LevelName(%v) = %s, want %s", l, got, name)
		}
	}
}
