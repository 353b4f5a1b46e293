//go:build go1.21

package logstashasync

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"
)

// BenchmarkSlog is the caller's cost of one typical record, from GOMAXPROCS
// goroutines at once (b.RunParallel), through this handler (encode + hand
// over to the library, which ships it to a loopback receiver on its worker
// thread), next to slog.NewJSONHandler writing each record to a TCP
// connection to the same kind of receiver:
//
//	go test -run '^$' -bench Slog -benchmem -cpu 1,2,8
func BenchmarkSlog(b *testing.B) {
	run := func(b *testing.B, logger *slog.Logger) {
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				logger.Info("request served", "method", "GET", "path", "/api/v1/items",
					"status", 200, "took", 1500*time.Microsecond)
			}
		})
		b.StopTimer()
	}
	withClient := func(b *testing.B, enable bool) {
		r := startReceiver(b, true)
		cfg := testConfig(r.port())
		cfg.Enable = Bool(enable)
		c, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		run(b, slog.New(NewHandler(c, nil)).With("service", "billing"))
		s, _ := c.Stats()
		// Events the worker could not take in time are refused (QUEUE_FULL,
		// never blocking the caller): reported, not hidden.
		b.ReportMetric(float64(s.DroppedQueueFull)/float64(b.N), "dropped/op")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	}

	b.Run("handler=logstash_async", func(b *testing.B) { withClient(b, true) })
	// enable=false: the library validates and discards, so this is the
	// caller's cost without the worker thread competing for the CPU.
	b.Run("handler=logstash_async/enable=false", func(b *testing.B) { withClient(b, false) })
	b.Run("handler=json_tcp", func(b *testing.B) {
		r := startReceiver(b, true)
		conn, err := net.Dial("tcp", r.ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		run(b, slog.New(slog.NewJSONHandler(conn, nil)).With("service", "billing"))
	})
}
