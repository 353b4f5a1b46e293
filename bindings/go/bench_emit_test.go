package logstashasync

import (
	"context"
	"testing"
	"time"
)

// BenchmarkEmitParallel is the caller's cost of one event through Client
// from many goroutines at once (b.RunParallel: GOMAXPROCS goroutines), to see
// whether the emit path scales with cores:
//
//	go test -run '^$' -bench EmitParallel -benchmem -cpu 1,2,8
//
// enable=false is the Go side alone (the library validates and discards);
// enable=true also queues the event for the worker, which ships it to a
// loopback receiver.
func BenchmarkEmitParallel(b *testing.B) {
	event := []byte(`{"message":"request served","level":"INFO","method":"GET","status":200}`)
	for _, enable := range []bool{false, true} {
		name := "enable=true"
		if !enable {
			name = "enable=false"
		}
		b.Run(name, func(b *testing.B) {
			r := startReceiver(b, true)
			cfg := testConfig(r.port())
			cfg.Enable = Bool(enable)
			c, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = c.Close(ctx)
			}()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = c.EmitJSON(event)
				}
			})
			b.StopTimer()
			s, _ := c.Stats()
			b.ReportMetric(float64(s.DroppedQueueFull)/float64(b.N), "dropped/op")
		})
	}
}
