// A user's program, built by scripts/tests.d/30-go.sh in an empty module the
// way bindings/go/README.md says (go get, then a shared and a static build),
// and run with nothing but its binary: it logs through slog and zap to a
// receiver it starts on 127.0.0.1, and prints what arrived.
package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	logstashasync "github.com/logstash-async/logstash-async/bindings/go"
	"github.com/logstash-async/logstash-async/bindings/go/zaplogstash"
	"go.uber.org/zap"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

func run() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	lines := make(chan string, 2)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		// Closing on EOF answers the client's clean shutdown, as Logstash does.
		defer conn.Close()
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	host := "127.0.0.1"
	if len(os.Args) > 1 {
		host = os.Args[1] // a name, to check resolution where the binary runs
	}
	c, err := logstashasync.New(logstashasync.Config{Host: host, Port: ln.Addr().(*net.TCPAddr).Port})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	defer c.Close(ctx)

	slog.New(logstashasync.NewHandler(c, nil)).Info("hello from slog", "user_id", 42)
	logger := zap.New(zaplogstash.NewCore(c, nil))
	logger.Info("hello from zap", zap.Int("user_id", 43))
	if err := logger.Sync(); err != nil { // Flush
		return err
	}
	for i := 0; i < 2; i++ {
		select {
		case l := <-lines:
			if !strings.Contains(l, `"message":"hello from`) {
				return fmt.Errorf("unexpected event: %s", l)
			}
			fmt.Println("received:", l)
		case <-ctx.Done():
			return fmt.Errorf("only %d of 2 events arrived", i)
		}
	}
	fmt.Println("app: ok, library", logstashasync.Version())
	return nil
}
