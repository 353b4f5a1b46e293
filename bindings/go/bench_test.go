//go:build go1.21

package logstashasync

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkSlog compares logging one typical record through this handler
// (encode + hand over to the library, which ships it to a loopback receiver
// on its worker thread) with slog.NewJSONHandler writing to io.Discard, the
// floor for a JSON slog handler.
//
//	go test -run '^$' -bench Slog -benchmem
func BenchmarkSlog(b *testing.B) {
	logAll := func(b *testing.B, logger *slog.Logger) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			logger.Info("request served", "method", "GET", "path", "/api/v1/items",
				"status", 200, "took", 1500*time.Microsecond)
		}
	}
	logParallel := func(b *testing.B, logger *slog.Logger) {
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				logger.Info("request served", "method", "GET", "path", "/api/v1/items",
					"status", 200, "took", 1500*time.Microsecond)
			}
		})
	}
	withClient := func(b *testing.B, enable bool, run func(*testing.B, *slog.Logger)) {
		r := startReceiver(b, true)
		cfg := testConfig(r.port())
		cfg.Enable = Bool(enable)
		c, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		run(b, slog.New(NewHandler(c, nil)).With("service", "billing"))
		b.StopTimer()
		s, _ := c.Stats()
		// Events the worker could not take in time are refused (QUEUE_FULL,
		// never blocking the caller): reported, not hidden.
		b.ReportMetric(float64(s.DroppedQueueFull)/float64(b.N), "dropped/op")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	}
	jsonDiscard := func() *slog.Logger {
		return slog.New(slog.NewJSONHandler(io.Discard, nil)).With("service", "billing")
	}

	b.Run("handler=logstash_async", func(b *testing.B) { withClient(b, true, logAll) })
	// enable=false: the library validates and discards, so this is the
	// caller's cost without the worker thread competing for the CPU.
	b.Run("handler=logstash_async/enable=false", func(b *testing.B) { withClient(b, false, logAll) })
	b.Run("handler=json_discard", func(b *testing.B) { logAll(b, jsonDiscard()) })
	b.Run("handler=logstash_async/parallel", func(b *testing.B) { withClient(b, true, logParallel) })
	b.Run("handler=json_discard/parallel", func(b *testing.B) { logParallel(b, jsonDiscard()) })
}
