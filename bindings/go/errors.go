package logstashasync

// #include <logstash_async.h>
import "C"

import "fmt"

// Code is a result code of the C library (logstash_async_result). The values
// are the library's and are never renumbered.
type Code int

// The library's result codes.
const (
	CodeOK              Code = C.LOGSTASH_ASYNC_OK
	CodeNullArgument    Code = C.LOGSTASH_ASYNC_NULL_ARGUMENT
	CodeInvalidUTF8     Code = C.LOGSTASH_ASYNC_INVALID_UTF8
	CodeInvalidJSON     Code = C.LOGSTASH_ASYNC_INVALID_JSON
	CodeNotAnObject     Code = C.LOGSTASH_ASYNC_NOT_AN_OBJECT
	CodeEventTooLarge   Code = C.LOGSTASH_ASYNC_EVENT_TOO_LARGE
	CodeQueueFull       Code = C.LOGSTASH_ASYNC_QUEUE_FULL
	CodeTimeout         Code = C.LOGSTASH_ASYNC_TIMEOUT
	CodeStoredNotSent   Code = C.LOGSTASH_ASYNC_STORED_NOT_SENT
	CodeShuttingDown    Code = C.LOGSTASH_ASYNC_SHUTTING_DOWN
	CodeInvalidArgument Code = C.LOGSTASH_ASYNC_INVALID_ARGUMENT
	CodeForked          Code = C.LOGSTASH_ASYNC_FORKED
	CodeBufferTooSmall  Code = C.LOGSTASH_ASYNC_BUFFER_TOO_SMALL
	CodeInternalError   Code = C.LOGSTASH_ASYNC_INTERNAL_ERROR
)

// String is the library's English description of the code.
func (c Code) String() string {
	return C.GoString(C.logstash_async_result_str(C.int(c)))
}

// Error is a failed library call: the operation and the library's result code.
// Compare it with the sentinels using errors.Is:
//
//	if errors.Is(err, logstashasync.ErrQueueFull) { ... }
type Error struct {
	// Op is the call that failed ("emit", "flush", ...); empty in sentinels.
	Op string
	// Code is the library's result code.
	Code Code
	// Err is the underlying cause, if any (a JSON encoding error, or the
	// context's error when Flush gives up); errors.Is and errors.As see it.
	Err error
}

func (e *Error) Error() string {
	msg := "logstash_async: "
	if e.Op != "" {
		msg += e.Op + ": "
	}
	msg += e.Code.String()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrQueueFull) holds whatever the operation was.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels, one per failure code, for errors.Is.
var (
	ErrNullArgument    = &Error{Code: CodeNullArgument}
	ErrInvalidUTF8     = &Error{Code: CodeInvalidUTF8}
	ErrInvalidJSON     = &Error{Code: CodeInvalidJSON}
	ErrNotAnObject     = &Error{Code: CodeNotAnObject}
	ErrEventTooLarge   = &Error{Code: CodeEventTooLarge}
	ErrQueueFull       = &Error{Code: CodeQueueFull}
	ErrTimeout         = &Error{Code: CodeTimeout}
	ErrStoredNotSent   = &Error{Code: CodeStoredNotSent}
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument}
	ErrForked          = &Error{Code: CodeForked}
	ErrBufferTooSmall  = &Error{Code: CodeBufferTooSmall}
	ErrInternal        = &Error{Code: CodeInternalError}

	// ErrClosed is returned by every call after Close, and by the library while
	// a handle shuts down (LOGSTASH_ASYNC_SHUTTING_DOWN).
	ErrClosed = &Error{Code: CodeShuttingDown}
)

// codeError turns a library result into a Go error (nil for OK).
func codeError(op string, r C.enum_logstash_async_result) error {
	if r == C.LOGSTASH_ASYNC_OK {
		return nil
	}
	return &Error{Op: op, Code: Code(r)}
}

// ConfigError is a configuration the library refused, with its message
// (which names the option, e.g. "port: 70000 is out of range (1..=65535)").
type ConfigError struct {
	Message string
}

func (e *ConfigError) Error() string {
	return "logstash_async: invalid configuration: " + e.Message
}

// Is makes errors.Is(err, ErrInvalidConfig) hold for every ConfigError.
func (e *ConfigError) Is(target error) bool {
	return target == ErrInvalidConfig
}

// ErrInvalidConfig matches every *ConfigError with errors.Is.
var ErrInvalidConfig = fmt.Errorf("logstash_async: invalid configuration")
