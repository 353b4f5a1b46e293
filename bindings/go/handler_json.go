//go:build go1.21

package logstashasync

// JSON encoding of slog attributes, appending to a byte slice (no reflection
// for the common kinds). Values follow slog.JSONHandler: durations in
// nanoseconds, times in RFC 3339, errors as their message, other values
// through encoding/json.

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendSeparator writes the comma needed before a key (none right after '{'
// or at the start of a fragment).
func appendSeparator(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return b
}

func appendKey(b []byte, key string) []byte {
	b = appendSeparator(b)
	b = appendString(b, key)
	return append(b, ':')
}

// replacer applies HandlerOptions.ReplaceAttr to the attributes of one
// event, knowing the groups that enclose each (nil: nothing to replace).
type replacer struct {
	fn     func(groups []string, a slog.Attr) slog.Attr
	groups []string
}

// appendAttr writes "key":value, nothing for an empty attribute or an empty
// group, and a group with an empty key inline. With a replacer, every
// attribute that is not a group goes through ReplaceAttr first.
func appendAttr(b []byte, a slog.Attr, r *replacer) []byte {
	a.Value = a.Value.Resolve()
	if r != nil && a.Value.Kind() != slog.KindGroup {
		a = r.fn(r.groups, a)
		a.Value = a.Value.Resolve()
	}
	if isEmpty(a) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return b
		}
		if a.Key == "" {
			for _, ga := range attrs {
				b = appendAttr(b, ga, r)
			}
			return b
		}
		if r != nil {
			// A full slice expression: appending never writes into an array
			// another goroutine's replacer may be reading.
			r.groups = append(r.groups[:len(r.groups):len(r.groups)], a.Key)
			defer func() { r.groups = r.groups[:len(r.groups)-1] }()
		}
		mark := len(b)
		b = appendKey(b, a.Key)
		b = append(b, '{')
		start := len(b)
		for _, ga := range attrs {
			b = appendAttr(b, ga, r)
		}
		if len(b) == start {
			return b[:mark]
		}
		return append(b, '}')
	}
	b = appendKey(b, a.Key)
	return appendValue(b, a.Value)
}

// isEmpty is slog's "ignore an Attr whose key and value are both zero"
// (without Attr.Equal, which panics on values of uncomparable types).
func isEmpty(a slog.Attr) bool {
	return a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil
}

func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return appendFloat(b, v.Float64())
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		b = append(b, '"')
		b = v.Time().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	default:
		return appendAny(b, v.Any())
	}
}

func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Inf"`...)
	}
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case error:
		if _, ok := x.(json.Marshaler); !ok {
			return appendString(b, x.Error())
		}
	case []byte:
		return appendString(b, string(x))
	}
	text, err := json.Marshal(v)
	if err != nil {
		return appendString(b, fmt.Sprintf("%+v", v))
	}
	return append(b, text...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
