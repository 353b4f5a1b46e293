// Package zaplogstash is a zapcore.Core that ships zap's entries to Logstash
// through liblogstash_async (package logstashasync), in python-logstash-async's
// layout. It is a module of its own so that the logstashasync package keeps
// no third-party dependency.
//
//	c, _ := logstashasync.New(logstashasync.Config{Host: "logstash.internal"})
//	logger := zap.New(zaplogstash.NewCore(c, nil), zap.AddCaller())
//	defer logger.Sync() // waits (up to Options.SyncTimeout) for delivery
package zaplogstash

import (
	"context"
	"fmt"
	"time"

	logstashasync "github.com/logstash-async/logstash-async/bindings/go"
	"go.uber.org/zap/zapcore"
)

// DefaultSyncTimeout bounds Sync when Options.SyncTimeout is zero.
const DefaultSyncTimeout = 5 * time.Second

// Options configure a Core. The zero value logs Info and above.
type Options struct {
	// Level decides which entries are logged; nil means zapcore.InfoLevel.
	// A zap.AtomicLevel changes it at run time.
	Level zapcore.LevelEnabler
	// SyncTimeout bounds Sync (and the delivery wait before a Panic or Fatal
	// entry ends the program); 0 means DefaultSyncTimeout.
	SyncTimeout time.Duration
}

// Core emits each entry as one event: the entry's time as "@timestamp" (UTC,
// milliseconds), its message as "message", its level as a Python level name
// ("level": DEBUG, INFO, WARNING, ERROR, and CRITICAL for DPanic, Panic and
// Fatal), the logger's name as "logger_name", the caller as "func_name",
// "path" and "line", the stack as "stack_trace", and the fields (With and the
// entry's own; zap.Namespace nests) under the Client's extra prefix. A
// zap.Error field also gives "error_type" (the error's Go type).
//
// Write encodes into a pooled buffer and hands it to the library, which
// copies it and returns: no network or disk I/O on the caller's goroutine.
type Core struct {
	zapcore.LevelEnabler
	client      *logstashasync.Client
	enc         zapcore.Encoder
	syncTimeout time.Duration
}

// NewCore returns a Core that logs through c. opts may be nil.
func NewCore(c *logstashasync.Client, opts *Options) *Core {
	core := &Core{LevelEnabler: zapcore.InfoLevel, client: c, syncTimeout: DefaultSyncTimeout}
	if opts != nil {
		if opts.Level != nil {
			core.LevelEnabler = opts.Level
		}
		if opts.SyncTimeout > 0 {
			core.syncTimeout = opts.SyncTimeout
		}
	}
	core.enc = zapcore.NewJSONEncoder(EncoderConfig())
	return core
}

// EncoderConfig is the JSON encoder configuration of a Core: the Logstash
// layout's key names (the library moves every key but "@timestamp", "level"
// and "message" under the extra prefix). The caller becomes "path" and
// "line", its function "func_name", the stack "stack_trace"
// (python-logstash-async's names), all written before any field, so a
// zap.Namespace never captures them.
func EncoderConfig() zapcore.EncoderConfig {
	return zapcore.EncoderConfig{
		TimeKey:        "@timestamp",
		LevelKey:       "level",
		NameKey:        "logger_name",
		MessageKey:     "message",
		CallerKey:      "path",
		FunctionKey:    "func_name",
		StacktraceKey:  "stack_trace",
		SkipLineEnding: true,
		EncodeTime:     encodeTime,
		EncodeLevel:    encodeLevel,
		EncodeCaller:   encodeCaller,
		EncodeDuration: zapcore.NanosDurationEncoder,
		EncodeName:     zapcore.FullNameEncoder,
	}
}

// encodeCaller writes the file as the value of "path", then "line" beside
// it when the encoder is also an object encoder (zap's JSON encoder is).
func encodeCaller(c zapcore.EntryCaller, e zapcore.PrimitiveArrayEncoder) {
	e.AppendString(c.File)
	if obj, ok := e.(zapcore.ObjectEncoder); ok {
		obj.AddInt("line", c.Line)
	}
}

// timestampLayout is python-logstash-async's @timestamp: UTC, milliseconds.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// timeLayoutAppender is what zap's JSON encoder offers to append a
// formatted time without making a string first (no allocation).
type timeLayoutAppender interface {
	AppendTimeLayout(time.Time, string)
}

func encodeTime(t time.Time, e zapcore.PrimitiveArrayEncoder) {
	if a, ok := e.(timeLayoutAppender); ok {
		a.AppendTimeLayout(t.UTC(), timestampLayout)
		return
	}
	e.AppendString(t.UTC().Format(timestampLayout))
}

func encodeLevel(l zapcore.Level, e zapcore.PrimitiveArrayEncoder) {
	e.AppendString(LevelName(l))
}

// LevelName maps a zap level to Python's level names.
func LevelName(l zapcore.Level) string {
	switch {
	case l < zapcore.InfoLevel:
		return "DEBUG"
	case l == zapcore.InfoLevel:
		return "INFO"
	case l == zapcore.WarnLevel:
		return "WARNING"
	case l == zapcore.ErrorLevel:
		return "ERROR"
	default:
		return "CRITICAL"
	}
}

// With returns a Core whose events carry fields.
func (c *Core) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.enc = c.enc.Clone()
	for _, f := range fields {
		f.AddTo(clone.enc)
	}
	return &clone
}

// Check adds c to ce if the entry's level is enabled.
func (c *Core) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

// Write emits the entry. It returns the Client's error, e.g. one matching
// logstashasync.ErrQueueFull (zap reports it on its ErrorOutput).
func (c *Core) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	buf, err := c.enc.EncodeEntry(ent, withErrorTypes(fields))
	if err != nil {
		return err
	}
	err = c.client.EmitJSON(buf.Bytes())
	buf.Free()
	if ent.Level > zapcore.ErrorLevel {
		// Panic and Fatal end the program right after: deliver first, as zap's
		// own cores sync their output.
		_ = c.Sync()
	}
	return err
}

// withErrorTypes adds "error_type" (the error's Go type, python-logstash-async's
// name for the exception class) right after each zap.Error field, in a new
// slice (the caller's is never written to); fields itself when there is none.
func withErrorTypes(fields []zapcore.Field) []zapcore.Field {
	n := 0
	for _, f := range fields {
		if isError(f) {
			n++
		}
	}
	if n == 0 {
		return fields
	}
	out := make([]zapcore.Field, 0, len(fields)+n)
	for _, f := range fields {
		out = append(out, f)
		if isError(f) {
			out = append(out, zapcore.Field{Key: "error_type", Type: zapcore.StringType,
				String: fmt.Sprintf("%T", f.Interface)})
		}
	}
	return out
}

func isError(f zapcore.Field) bool {
	return f.Type == zapcore.ErrorType && f.Key == "error" && f.Interface != nil
}

// Sync waits until every event written so far is delivered, up to the
// SyncTimeout (see logstashasync.Client.Flush for its errors).
func (c *Core) Sync() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.syncTimeout)
	defer cancel()
	return c.client.Flush(ctx)
}

var _ zapcore.Core = (*Core)(nil)
