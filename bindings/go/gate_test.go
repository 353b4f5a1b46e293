package logstashasync

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGateCloseWaitsForCallsInProgress(t *testing.T) {
	var g gate
	s := g.enter()
	if s < 0 {
		t.Fatal("enter on an open gate failed")
	}
	var closed atomic.Bool
	done := make(chan struct{})
	go func() {
		if !g.close() {
			t.Error("first close reported the gate closed already")
		}
		closed.Store(true)
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	if closed.Load() {
		t.Fatal("close returned while a call was in progress")
	}
	if g.enter() >= 0 {
		t.Error("enter succeeded after close began")
	}
	g.leave(s)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return after the last call left")
	}
	if g.close() {
		t.Error("second close reported closing the gate")
	}
}

func TestGateManyGoroutinesThenClose(t *testing.T) {
	var g gate
	var inside, maxInside atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s := g.enter()
				if s < 0 {
					return
				}
				if n := inside.Add(1); n > maxInside.Load() {
					maxInside.Store(n)
				}
				inside.Add(-1)
				g.leave(s)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	g.close()
	if n := inside.Load(); n != 0 {
		t.Errorf("%d calls still inside after close returned", n)
	}
	wg.Wait()
}

// BenchmarkGate compares the call gate with the sync.RWMutex it replaced,
// both entered and left by GOMAXPROCS goroutines at once (no cgo, no
// library: the cost of the bookkeeping alone):
//
//	go test -run '^$' -bench Gate -cpu 1,2,8
func BenchmarkGate(b *testing.B) {
	b.Run("gate=striped", func(b *testing.B) {
		var g gate
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				g.leave(g.enter())
			}
		})
	})
	b.Run("gate=rwmutex", func(b *testing.B) {
		var mu sync.RWMutex
		var closing atomic.Bool
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !closing.Load() {
					mu.RLock()
					mu.RUnlock()
				}
			}
		})
	})
}
