package logstashasync

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// gate lets any number of calls use the handle at once and lets Close wait
// until none does, so the library's shutdown never races another call (its
// contract). A call enters by incrementing one of several counters, each on
// its own cache line, chosen by the goroutine's stack address: goroutines on
// different cores rarely touch the same line, so the emit path scales with
// cores (a sync.RWMutex's single reader count does not: every RLock and
// RUnlock writes the same line).
//
// Go's atomics are sequentially consistent: a call increments, then reads
// closing; close sets closing, then reads the counters. One of the two sees
// the other, so no call runs on a freed handle.
type gate struct {
	// closing is read by every call and written once: on a cache line of its
	// own, so that the counters' writes never evict it from the readers' caches.
	closing atomic.Bool
	_       [60]byte
	stripes [gateStripes]gateStripe
}

const gateStripes = 16

type gateStripe struct {
	n atomic.Int64
	_ [56]byte // one cache line each (the last one also keeps the Client's other fields apart)
}

// enter begins a call: it returns the stripe to leave, or -1 once close has
// begun (the caller must not touch the handle).
func (g *gate) enter() int {
	if g.closing.Load() {
		return -1
	}
	var onStack byte
	s := stripeOf(uintptr(unsafe.Pointer(&onStack)))
	g.stripes[s].n.Add(1)
	if g.closing.Load() {
		g.stripes[s].n.Add(-1)
		return -1
	}
	return s
}

// leave ends a call begun by enter.
func (g *gate) leave(s int) {
	g.stripes[s].n.Add(-1)
}

// close stops new calls and waits for those in progress (emits take
// microseconds; a Flush slice at most flushSlice). It reports whether this
// call closed the gate (false if it was closed already).
func (g *gate) close() bool {
	if !g.closing.CompareAndSwap(false, true) {
		return false
	}
	pause := time.Microsecond
	for g.busy() {
		runtime.Gosched()
		time.Sleep(pause)
		if pause < time.Millisecond {
			pause *= 2
		}
	}
	return true
}

func (g *gate) busy() bool {
	for i := range g.stripes {
		if g.stripes[i].n.Load() != 0 {
			return true
		}
	}
	return false
}

// stripeOf spreads goroutines over the stripes by the address of a variable
// on the caller's stack (goroutine stacks are at least 8 KiB apart; a stack
// that moves when it grows just picks another stripe, which is as correct).
func stripeOf(addr uintptr) int {
	return int((addr >> 13) % gateStripes)
}
