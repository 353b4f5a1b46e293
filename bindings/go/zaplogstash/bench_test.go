package zaplogstash

import (
	"io"
	"net"
	"testing"
	"time"

	logstashasync "github.com/logstash-async/logstash-async/bindings/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// BenchmarkZap is the caller's cost of one typical zap entry through this
// core (encode, hand over to the library, which ships it to a loopback
// receiver on its worker thread), next to zap's own JSON core writing each
// entry to a TCP connection to the same kind of receiver:
//
//	go test -run '^$' -bench Zap -benchmem -cpu 1,2,8
func BenchmarkZap(b *testing.B) {
	run := func(b *testing.B, logger *zap.Logger) {
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				logger.Info("request served", zap.String("method", "GET"), zap.String("path", "/api/v1/items"),
					zap.Int("status", 200), zap.Duration("took", 1500*time.Microsecond))
			}
		})
		b.StopTimer()
	}
	b.Run("core=logstash_async", func(b *testing.B) {
		r := startReceiver(b, true)
		c := newClient(b, r.port(), logstashasync.Config{})
		// Refused entries are counted below, not printed one by one.
		run(b, zap.New(NewCore(c, nil), zap.ErrorOutput(zapcore.AddSync(io.Discard))).With(zap.String("service", "billing")))
		s, _ := c.Stats()
		// Entries the worker could not take in time are refused (QUEUE_FULL,
		// never blocking the caller): reported, not hidden.
		b.ReportMetric(float64(s.DroppedQueueFull)/float64(b.N), "dropped/op")
	})
	b.Run("core=zap_json_tcp", func(b *testing.B) {
		r := startReceiver(b, true)
		conn, err := net.Dial("tcp", r.ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
			zapcore.Lock(zapcore.AddSync(conn)), zapcore.InfoLevel)
		run(b, zap.New(core).With(zap.String("service", "billing")))
	})
}
