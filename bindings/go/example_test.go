//go:build go1.21

package logstashasync_test

import (
	"context"
	"log"
	"log/slog"

	logstashasync "github.com/logstash-async/logstash-async/bindings/go"
)

// The README's example (compiled, not run: it needs a Logstash).
func Example() {
	c, err := logstashasync.New(logstashasync.Config{Host: "logstash.internal", Port: 5959,
		DatabasePath: "/var/lib/app/logstash.db"})
	if err != nil {
		log.Fatal(err) // e.g. "logstash_async: invalid configuration: port: 70000 is out of range (1..=65535)"
	}
	defer c.Close(context.Background()) // delivers what it can within 5 s (or the context's deadline)

	logger := slog.New(logstashasync.NewHandler(c, &logstashasync.HandlerOptions{AddSource: true}))
	logger.Info("user signed in", "user_id", 42, slog.Group("req", "id", "r-7", "path", "/login"))
	c.Emit(map[string]any{"message": "raw event", "level": "WARNING", "order": 1234}) // or EmitJSON([]byte)
}
