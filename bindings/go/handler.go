//go:build go1.21

package logstashasync

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"
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
	// ReplaceAttr, as in slog.HandlerOptions, rewrites or drops (by returning
	// an Attr with an empty key) each attribute that is not a group, with the
	// names of the groups that enclose it. The built-in attributes come first,
	// with nil groups: slog.TimeKey (the record's time, skipped when zero),
	// slog.LevelKey (a slog.Level), slog.MessageKey and, with AddSource,
	// slog.SourceKey (a *slog.Source). Returned under their own key they fill
	// "@timestamp", "level" (a slog.Level or a level name), "message" and
	// func_name/path/line; returned under another key they become ordinary
	// attributes.
	ReplaceAttr func(groups []string, a slog.Attr) slog.Attr
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
	// groups are all the groups named by WithGroup (for ReplaceAttr); its
	// length is its capacity, so appending always copies.
	groups []string
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
	rep := h.replacer()
	for _, a := range attrs {
		b = appendAttr(b, a, rep)
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
	h2.groups = append(h.groups[:len(h.groups):len(h.groups)], name)
	return &h2
}

// replacer is ReplaceAttr with the handler's groups, or nil without it.
func (h *Handler) replacer() *replacer {
	if h.opts.ReplaceAttr == nil {
		return nil
	}
	return &replacer{fn: h.opts.ReplaceAttr, groups: h.groups}
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
	f := h.builtins(r)
	b = append(b, '{')
	// A zero time is left out: the library stamps the event when it is emitted.
	if !f.time.IsZero() {
		b = appendKey(b, "@timestamp")
		b = append(b, '"')
		b = f.time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, '"')
	}
	if f.level != "" {
		b = appendKey(b, "level")
		b = appendString(b, f.level)
	}
	if f.hasMessage {
		b = appendKey(b, "message")
		b = appendString(b, f.message)
	}

	// The extra object, or the top level when the prefix is "".
	prefix := h.client.extraPrefix
	if prefix != "" {
		b = appendKey(b, prefix)
		b = append(b, '{')
	}
	if h.opts.LoggerName != "" {
		b = appendKey(b, "logger_name")
		b = appendString(b, h.opts.LoggerName)
	}
	if f.hasSource {
		b = appendKey(b, "func_name")
		b = appendString(b, f.source.Function)
		b = appendKey(b, "path")
		b = appendString(b, f.source.File)
		b = appendKey(b, "line")
		b = strconv.AppendInt(b, int64(f.source.Line), 10)
	}
	for _, a := range f.renamed {
		b = appendAttr(b, a, nil)
	}
	if len(h.pre) > 0 {
		b = appendSeparator(b)
		b = append(b, h.pre...)
	}
	if r.NumAttrs() > 0 {
		mark := len(b)
		b = appendOpenGroups(b, h.pending)
		start := len(b)
		rep := h.replacer()
		r.Attrs(func(a slog.Attr) bool {
			b = appendAttr(b, a, rep)
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

// builtinFields are a record's time, level, message and source, after
// ReplaceAttr; renamed holds those it moved to another key.
type builtinFields struct {
	time       time.Time
	level      string
	message    string
	hasMessage bool
	source     slog.Source
	hasSource  bool
	renamed    []slog.Attr
}

func (h *Handler) builtins(r slog.Record) builtinFields {
	f := builtinFields{time: r.Time, level: levelName(r.Level), message: r.Message, hasMessage: true}
	if h.opts.AddSource && r.PC != 0 {
		fr, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		f.source = slog.Source{Function: fr.Function, File: fr.File, Line: fr.Line}
		f.hasSource = true
	}
	replace := h.opts.ReplaceAttr
	if replace == nil {
		return f
	}
	if !r.Time.IsZero() {
		f.time = time.Time{}
		a := replace(nil, slog.Time(slog.TimeKey, r.Time))
		if a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
			f.time = a.Value.Time()
		} else {
			f.rename(a)
		}
	}
	a := replace(nil, slog.Any(slog.LevelKey, r.Level))
	f.level = ""
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok {
			f.level = levelName(l)
		} else {
			f.level = a.Value.String()
		}
	} else {
		f.rename(a)
	}
	a = replace(nil, slog.String(slog.MessageKey, r.Message))
	f.message, f.hasMessage = "", false
	if a.Key == slog.MessageKey {
		f.message, f.hasMessage = a.Value.String(), true
	} else {
		f.rename(a)
	}
	if f.hasSource {
		src := f.source
		a = replace(nil, slog.Any(slog.SourceKey, &src))
		f.hasSource = false
		if s, ok := a.Value.Any().(*slog.Source); ok && s != nil && a.Key == slog.SourceKey {
			f.source, f.hasSource = *s, true
		} else {
			f.rename(a)
		}
	}
	return f
}

// rename keeps a built-in attribute ReplaceAttr gave another key (dropped
// when it gave none).
func (f *builtinFields) rename(a slog.Attr) {
	if a.Key != "" {
		f.renamed = append(f.renamed, a)
	}
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
