//go:build go1.21

package logstashasync

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
)

// HandlerOptions configure a Handler. The zero value logs Info and above
// without source locations.
type HandlerOptions struct {
	// Level is the minimum level logged; nil means slog.LevelInfo.
	Level slog.Leveler
	// AddSource adds the caller's func_name, path and line (python-logstash-async's
	// names) to the extra fields.
	AddSource bool
	// LoggerName, if set, is the logger_name extra field of every event.
	LoggerName string
}

// Handler is a slog.Handler that emits each record through a Client, in
// python-logstash-async's layout: the record's time as "@timestamp" (UTC, in
// milliseconds), its message as "message", its level as a Python level name
// ("level": DEBUG, INFO, WARNING, ERROR, and CRITICAL from slog.LevelError+4),
// and its attributes under the Client's extra prefix, groups as nested
// objects.
//
// Handle encodes the record into a pooled buffer and hands it to the library,
// which copies it and returns: no network or disk I/O on the caller's
// goroutine. A Handler is safe for concurrent use.
type Handler struct {
	client *Client
	opts   HandlerOptions
	// pre is the encoding of the attributes given to WithAttrs, inside the
	// extra object, with the groups opened before them ("k":v,"g":{"k2":v2).
	pre []byte
	// openGroups counts the groups opened in pre (closed at every event's end).
	openGroups int
	// pending are the groups named by WithGroup after the last WithAttrs;
	// they are written only if a record brings attributes.
	pending []string
}

// NewHandler returns a Handler that logs through c. opts may be nil.
func NewHandler(c *Client, opts *HandlerOptions) *Handler {
	h := &Handler{client: c}
	if opts != nil {
		h.opts = *opts
	}
	return h
}

// Enabled reports whether level is at or above the configured minimum.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	minLevel := slog.LevelInfo
	if h.opts.Level != nil {
		minLevel = h.opts.Level.Level()
	}
	return level >= minLevel
}

// WithAttrs returns a Handler whose events carry attrs (inside the current groups).
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	// A fresh slice: handlers derived from h must not share pre's backing array.
	b := append(make([]byte, 0, len(h.pre)+64), h.pre...)
	b = appendOpenGroups(b, h.pending)
	start := len(b)
	for _, a := range attrs {
		b = appendAttr(b, a)
	}
	if len(b) == start {
		return h // only empty attributes: the pending groups stay unwritten
	}
	h2 := *h
	h2.pre = b
	h2.openGroups += len(h.pending)
	h2.pending = nil
	return &h2
}

// WithGroup returns a Handler that nests later attributes in a group.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.pending = append(append(make([]string, 0, len(h.pending)+1), h.pending...), name)
	return &h2
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Handle emits the record. It returns the Client's error, e.g. one matching
// ErrQueueFull or ErrClosed (slog.Logger itself ignores it).
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	bp := bufPool.Get().(*[]byte)
	b := h.encode((*bp)[:0], r)
	err := h.client.EmitJSON(b)
	if cap(b) <= 64<<10 { // do not keep rare huge buffers alive
		*bp = b
		bufPool.Put(bp)
	}
	return err
}

// encode appends the event object for r to b.
func (h *Handler) encode(b []byte, r slog.Record) []byte {
	b = append(b, '{')
	// A zero time is left out: the library stamps the event when it is emitted.
	if !r.Time.IsZero() {
		b = append(b, `"@timestamp":"`...)
		b = r.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, `",`...)
	}
	b = append(b, `"level":"`...)
	b = append(b, levelName(r.Level)...)
	b = append(b, `","message":`...)
	b = appendString(b, r.Message)

	// The extra object, or the top level when the prefix is "".
	prefix := h.client.extraPrefix
	if prefix != "" {
		b = append(b, ',')
		b = appendString(b, prefix)
		b = append(b, ':', '{')
	}
	if h.opts.LoggerName != "" {
		b = appendKey(b, "logger_name")
		b = appendString(b, h.opts.LoggerName)
	}
	if h.opts.AddSource && r.PC != 0 {
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		b = appendKey(b, "func_name")
		b = appendString(b, f.Function)
		b = appendKey(b, "path")
		b = appendString(b, f.File)
		b = appendKey(b, "line")
		b = strconv.AppendInt(b, int64(f.Line), 10)
	}
	if len(h.pre) > 0 {
		b = appendSeparator(b)
		b = append(b, h.pre...)
	}
	if r.NumAttrs() > 0 {
		mark := len(b)
		b = appendOpenGroups(b, h.pending)
		start := len(b)
		r.Attrs(func(a slog.Attr) bool {
			b = appendAttr(b, a)
			return true
		})
		if len(b) == start {
			b = b[:mark] // no attributes after all: no empty groups
		} else {
			b = appendClose(b, len(h.pending))
		}
	}
	b = appendClose(b, h.openGroups)
	if prefix != "" {
		b = append(b, '}')
	}
	return append(b, '}')
}

// levelName maps a slog level to Python's level names.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	case l < slog.LevelError+4:
		return "ERROR"
	default:
		return "CRITICAL"
	}
}

func appendOpenGroups(b []byte, groups []string) []byte {
	for _, g := range groups {
		b = appendKey(b, g)
		b = append(b, '{')
	}
	return b
}

func appendClose(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, '}')
	}
	return b
}
