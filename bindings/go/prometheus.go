package logstashasync

// #include <logstash_async.h>
import "C"

import (
	"io"
	"runtime"
	"strings"
	"unsafe"
)

// PrometheusContentType is the Content-Type of StatsPrometheus's text.
const PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

// StatsPrometheus returns the library's counters in Prometheus's text
// exposition format, each sample labelled handle="<Config.HandleName or the
// handle's number>". To serve several clients on one endpoint, use
// WritePrometheus.
func (c *Client) StatsPrometheus() (string, error) {
	return c.bufferCall("stats_prometheus", func(h *C.logstash_async_handle, buf *C.char, n C.size_t, need *C.size_t) C.ResultCode {
		return C.logstash_async_stats_prometheus(h, buf, n, need)
	})
}

// WritePrometheus writes the counters of every client as one exposition:
// each metric family once (HELP, TYPE), with one sample per client, e.g.
//
//	http.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
//		w.Header().Set("Content-Type", logstashasync.PrometheusContentType)
//		_ = logstashasync.WritePrometheus(w, orders, audit)
//	})
func WritePrometheus(w io.Writer, clients ...*Client) error {
	var families [][][]string // per client, its families' lines
	for _, c := range clients {
		text, err := c.StatsPrometheus()
		if err != nil {
			return err
		}
		families = append(families, splitFamilies(text))
	}
	if len(families) == 0 {
		return nil
	}
	var out strings.Builder
	// Every client's text has the same families in the same order.
	for i, family := range families[0] {
		for _, line := range family {
			if strings.HasPrefix(line, "#") {
				out.WriteString(line + "\n")
			}
		}
		for _, client := range families {
			if i >= len(client) {
				continue
			}
			for _, line := range client[i] {
				if !strings.HasPrefix(line, "#") {
					out.WriteString(line + "\n")
				}
			}
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// splitFamilies cuts an exposition into its families (each starting at its
// "# HELP" line).
func splitFamilies(text string) [][]string {
	var families [][]string
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if strings.HasPrefix(line, "# HELP ") || len(families) == 0 {
			families = append(families, nil)
		}
		families[len(families)-1] = append(families[len(families)-1], line)
	}
	return families
}

// bufferCall runs one of the library's "write text into a buffer" calls
// (stats_json, stats_prometheus), growing the buffer when it is too small.
func (c *Client) bufferCall(op string, call func(*C.logstash_async_handle, *C.char, C.size_t, *C.size_t) C.ResultCode) (string, error) {
	buf := make([]byte, 4096)
	for attempt := 0; attempt < 4; attempt++ {
		var need C.size_t
		h, stripe := c.acquire()
		if h == nil {
			return "", &Error{Op: op, Code: CodeShuttingDown}
		}
		r := call(h, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &need)
		c.release(stripe)
		runtime.KeepAlive(c)
		switch r {
		case C.LOGSTASH_ASYNC_OK:
			return goString(buf), nil
		case C.LOGSTASH_ASYNC_BUFFER_TOO_SMALL:
			buf = make([]byte, int(need)+256) // the text may grow meanwhile
		default:
			return "", codeError(op, r)
		}
	}
	return "", &Error{Op: op, Code: CodeBufferTooSmall}
}
