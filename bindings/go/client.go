package logstashasync

// #include <logstash_async.h>
import "C"

import (
	"context"
	"encoding/json"
	"math"
	"runtime"
	"strings"
	"time"
	"unsafe"
)

// DefaultCloseTimeout bounds Close when its context has no deadline.
const DefaultCloseTimeout = 5 * time.Second

// flushSlice is the longest single flush call: Flush loops in slices so that
// it notices a cancelled context and never holds up Close for long.
const flushSlice = 250 * time.Millisecond

// flushMarked, when set by a test, runs once Flush has taken its target.
var flushMarked func()

// finalizerTimeout bounds the shutdown a forgotten Client gets from the
// finalizer (which runs on the runtime's single finalizer goroutine).
const finalizerTimeout = 100 // ms

// Client is a handle of the library: an in-memory queue, a SQLite buffer and
// one background worker thread that ships events to Logstash.
//
// All methods are safe for concurrent use by many goroutines. Emit, EmitJSON,
// Log and SetExtra never wait for the network or the disk. Close it when done
// (a finalizer closes a forgotten Client with a short timeout, as a safety net
// only).
type Client struct {
	// gate counts the calls using h, so that Close can wait for them: the C
	// shutdown never races another call on the handle.
	gate gate
	// h is set by New and cleared by Close once no call uses it.
	h *C.logstash_async_handle
	// extraPrefix is the configured extra_prefix ("" = top level); the slog
	// handler nests attributes under it.
	extraPrefix string
}

// New creates a Client. The configuration is validated by the library; an
// invalid one returns a *ConfigError with the library's message.
func New(cfg Config) (*Client, error) {
	text, err := json.Marshal(cfg)
	if err != nil {
		return nil, &ConfigError{Message: err.Error()}
	}
	return NewJSON(text)
}

// NewJSON creates a Client from a configuration JSON object, as the C API
// takes it (for options this version of Config does not know yet).
func NewJSON(config []byte) (*Client, error) {
	if i := indexNUL(config); i >= 0 {
		return nil, &ConfigError{Message: "configuration contains a NUL byte"}
	}
	ctext := append(append(make([]byte, 0, len(config)+1), config...), 0)
	errBuf := make([]byte, 1024)
	h := C.logstash_async_create(
		(*C.char)(unsafe.Pointer(&ctext[0])),
		(*C.char)(unsafe.Pointer(&errBuf[0])),
		C.size_t(len(errBuf)),
	)
	if h == nil {
		msg := goString(errBuf)
		if msg == "" {
			msg = "refused by the library"
		}
		return nil, &ConfigError{Message: msg}
	}
	c := &Client{h: h, extraPrefix: extraPrefixOf(config)}
	runtime.SetFinalizer(c, (*Client).finalize)
	return c, nil
}

// extraPrefixOf reads extra_prefix from an accepted configuration: absent
// means the library's default "extra"; null or "" mean the top level.
func extraPrefixOf(config []byte) string {
	var opts struct {
		ExtraPrefix *json.RawMessage `json:"extra_prefix"`
	}
	if json.Unmarshal(config, &opts) != nil || opts.ExtraPrefix == nil {
		return "extra"
	}
	var p string
	_ = json.Unmarshal(*opts.ExtraPrefix, &p) // null leaves ""
	return p
}

// acquire returns the live handle and the gate's stripe to release, or nil
// once Close has begun. Callers end the call with c.release(stripe).
func (c *Client) acquire() (*C.logstash_async_handle, int) {
	s := c.gate.enter()
	if s < 0 {
		return nil, s
	}
	return c.h, s
}

// release ends a call begun with acquire.
func (c *Client) release(stripe int) { c.gate.leave(stripe) }

// EmitJSON queues one event given as a JSON object. Its "message", "level"
// and "@timestamp" become top-level Logstash fields; every other key goes
// under the extra prefix. The bytes are validated and copied before it
// returns: the caller may reuse the slice at once.
func (c *Client) EmitJSON(event []byte) error {
	if len(event) == 0 {
		return &Error{Op: "emit", Code: CodeInvalidJSON}
	}
	h, stripe := c.acquire()
	if h == nil {
		return &Error{Op: "emit", Code: CodeShuttingDown}
	}
	// The Go memory is passed directly (no C copy): the library only reads it
	// during the call, and a []byte holds no Go pointers, as cgo requires.
	r := C.logstash_async_emit_json(h, (*C.char)(unsafe.Pointer(&event[0])), C.size_t(len(event)))
	c.release(stripe)
	runtime.KeepAlive(event)
	runtime.KeepAlive(c)
	return codeError("emit", r)
}

// Emit queues one event built from fields (encoded with encoding/json).
func (c *Client) Emit(fields map[string]any) error {
	event, err := json.Marshal(fields)
	if err != nil {
		return &Error{Op: "emit", Code: CodeInvalidJSON, Err: err}
	}
	return c.EmitJSON(event)
}

// Log queues a plain message. level is a Python level name ("DEBUG", "INFO",
// "WARNING", "ERROR", "CRITICAL"; "" means "INFO"); logger goes to the
// logger_name extra field ("" omits it).
func (c *Client) Log(level, logger, msg string) error {
	lv, lg, m := optCString(level), optCString(logger), cString(msg)
	if lv == nil && level != "" || lg == nil && logger != "" || m == nil {
		return &Error{Op: "log", Code: CodeInvalidArgument}
	}
	h, stripe := c.acquire()
	if h == nil {
		return &Error{Op: "log", Code: CodeShuttingDown}
	}
	r := C.logstash_async_log(h, cPtr(lv), cPtr(lg), cPtr(m))
	c.release(stripe)
	runtime.KeepAlive(lv)
	runtime.KeepAlive(lg)
	runtime.KeepAlive(m)
	runtime.KeepAlive(c)
	return codeError("log", r)
}

// SetExtra adds key with value (encoded with encoding/json) to every event
// emitted after it returns, until changed. A nil value removes the key.
// Fields of an event win over these.
func (c *Client) SetExtra(key string, value any) error {
	k := cString(key)
	if k == nil {
		return &Error{Op: "set_extra", Code: CodeInvalidArgument}
	}
	var v []byte
	if value != nil {
		text, err := json.Marshal(value)
		if err != nil {
			return &Error{Op: "set_extra", Code: CodeInvalidJSON, Err: err}
		}
		if v = cString(string(text)); v == nil {
			return &Error{Op: "set_extra", Code: CodeInvalidJSON}
		}
	}
	h, stripe := c.acquire()
	if h == nil {
		return &Error{Op: "set_extra", Code: CodeShuttingDown}
	}
	r := C.logstash_async_set_extra(h, cPtr(k), cPtr(v))
	c.release(stripe)
	runtime.KeepAlive(k)
	runtime.KeepAlive(v)
	runtime.KeepAlive(c)
	return codeError("set_extra", r)
}

// Flush waits until every event accepted before the call is delivered, or
// ctx is done; events emitted meanwhile (by other goroutines) are not waited
// for. It returns nil (all delivered), an error matching ErrStoredNotSent
// (all are safe in the database file but the receiver is failing; they will
// be sent later), or one matching ErrTimeout that also wraps ctx.Err().
// Without a deadline it waits until delivery or cancellation.
func (c *Client) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: "flush", Code: CodeTimeout, Err: err}
	}
	h, stripe := c.acquire()
	if h == nil {
		return &Error{Op: "flush", Code: CodeShuttingDown}
	}
	// The target: what was accepted until now. Every slice below waits for
	// this same mark (a plain flush per slice would take a new target each
	// time, and under load wait for events emitted after the call).
	var mark C.uint64_t
	r := C.logstash_async_flush_mark(h, &mark)
	c.release(stripe)
	if r != C.LOGSTASH_ASYNC_OK {
		return codeError("flush", r)
	}
	if flushMarked != nil {
		flushMarked()
	}
	for {
		// Slices: the context is checked between them, and Close (which waits
		// for calls in progress) is never held up for long.
		slice := flushSlice
		if deadline, ok := ctx.Deadline(); ok {
			if left := time.Until(deadline); left < slice {
				slice = left
			}
		}
		h, stripe := c.acquire()
		if h == nil {
			return &Error{Op: "flush", Code: CodeShuttingDown}
		}
		r := C.logstash_async_flush_to(h, mark, C.uint32_t(millis(slice)))
		c.release(stripe)
		runtime.KeepAlive(c)
		if r != C.LOGSTASH_ASYNC_TIMEOUT {
			return codeError("flush", r)
		}
		if err := ctx.Err(); err != nil {
			return &Error{Op: "flush", Code: CodeTimeout, Err: err}
		}
	}
}

// Close delivers what it can before ctx's deadline (DefaultCloseTimeout
// without one), stops the worker and frees the handle. Events not delivered
// stay in the database file when database_path is a file; the error then
// matches ErrStoredNotSent (kept in the file) or ErrTimeout (lost, counted).
//
// Close waits for calls in progress on other goroutines; afterwards every
// call returns an error matching ErrClosed. Closing again returns nil.
func (c *Client) Close(ctx context.Context) error {
	if !c.gate.close() {
		return nil
	}
	h := c.h
	c.h = nil
	runtime.SetFinalizer(c, nil)
	if h == nil {
		return nil
	}
	timeout := DefaultCloseTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	// Nobody else can reach h any more: the shutdown races no other call.
	return codeError("close", C.logstash_async_shutdown(h, C.uint32_t(millis(timeout))))
}

// finalize is the safety net for a Client that was never closed: a short
// shutdown, so the finalizer goroutine is not held up for long. An
// unreachable Client has no call in progress.
func (c *Client) finalize() {
	if c.gate.closing.CompareAndSwap(false, true) && c.h != nil {
		C.logstash_async_shutdown(c.h, finalizerTimeout)
		c.h = nil
	}
}

// Stats returns the library's counters.
func (c *Client) Stats() (Stats, error) {
	var s Stats
	text, err := c.bufferCall("stats", func(h *C.logstash_async_handle, buf *C.char, n C.size_t, need *C.size_t) C.ResultCode {
		return C.logstash_async_stats_json(h, buf, n, need)
	})
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return s, &Error{Op: "stats", Code: CodeInternalError, Err: err}
	}
	return s, nil
}

// Version is the library's version, e.g. "0.1.0".
func Version() string {
	return C.GoString(C.logstash_async_version())
}

// cString returns s as NUL-terminated Go bytes (passed to C without a C
// copy), or nil if s itself contains a NUL byte.
func cString(s string) []byte {
	if strings.IndexByte(s, 0) >= 0 {
		return nil
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// optCString is cString with "" as nil (a NULL argument for C).
func optCString(s string) []byte {
	if s == "" {
		return nil
	}
	return cString(s)
}

// goString reads a NUL-terminated string the library wrote into b.
func goString(b []byte) string {
	if i := indexNUL(b); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// cPtr is the C view of cString's result (NULL for an empty slice).
func cPtr(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}

func indexNUL(b []byte) int {
	for i, x := range b {
		if x == 0 {
			return i
		}
	}
	return -1
}

// millis rounds d up to whole milliseconds within the C API's uint32 range
// (0 for a past deadline: a last non-blocking attempt).
func millis(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(ms)
}
