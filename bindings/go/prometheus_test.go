package logstashasync

import (
	"bytes"
	"strings"
	"testing"
)

func TestStatsPrometheusLabelsTheHandle(t *testing.T) {
	r := startReceiver(t, false)
	cfg := testConfig(r.port())
	cfg.HandleName = "go-orders"
	c := newClient(t, cfg)
	for i := 0; i < 3; i++ {
		if err := c.Emit(map[string]any{"message": "m"}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, c)
	text, err := c.StatsPrometheus()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE logstash_async_events_sent_total counter\n",
		"logstash_async_events_sent_total{handle=\"go-orders\"} 3\n",
		"logstash_async_events_dropped_total{handle=\"go-orders\",reason=\"queue_full\"} 0\n",
		"# TYPE logstash_async_events_buffered gauge\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}

func TestWritePrometheusMergesClientsFamilyByFamily(t *testing.T) {
	r := startReceiver(t, false)
	a := testConfig(r.port())
	a.HandleName = "a"
	b := testConfig(r.port())
	b.HandleName = "b"
	ca, cb := newClient(t, a), newClient(t, b)
	if err := ca.Emit(map[string]any{"message": "only a"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WritePrometheus(&out, ca, cb); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if n := strings.Count(text, "# HELP logstash_async_events_emitted_total "); n != 1 {
		t.Errorf("HELP of a family %d times:\n%s", n, text)
	}
	want := "logstash_async_events_emitted_total{handle=\"a\"} 1\nlogstash_async_events_emitted_total{handle=\"b\"} 0\n"
	if !strings.Contains(text, want) {
		t.Errorf("samples of both handles not together (%q):\n%s", want, text)
	}
	// Every sample line belongs to the family of the HELP line before it.
	family := ""
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "# HELP ") {
			family = strings.Fields(line)[2]
		} else if !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, family+"{") {
			t.Errorf("%q outside its family %s", line, family)
		}
	}
}
