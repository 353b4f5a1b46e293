package logstashasync

// Config holds the library's options, with python-logstash-async's names as
// JSON keys. A field left at its zero value is omitted, so the library's
// default applies; options whose zero value is meaningful and differs from
// the default are pointers (use Bool, String and Float to set them).
//
// The library validates the options: New returns a *ConfigError carrying its
// message when one is invalid. Times are in seconds, as in Python.
type Config struct {
	Host      string `json:"host"`
	Port      int    `json:"port,omitempty"`
	Transport string `json:"transport,omitempty"` // "tcp" (default) or "udp"

	SSLEnable     bool     `json:"ssl_enable,omitempty"`
	SSLVerify     *bool    `json:"ssl_verify,omitempty"` // default true
	CACerts       string   `json:"ca_certs,omitempty"`
	CertFile      string   `json:"certfile,omitempty"`
	KeyFile       string   `json:"keyfile,omitempty"`
	SSLServerName string   `json:"ssl_server_name,omitempty"`
	DatabasePath  string   `json:"database_path,omitempty"` // default ":memory:"
	Enable        *bool    `json:"enable,omitempty"`        // default true
	MessageType   string   `json:"message_type,omitempty"`  // default "python-logstash"
	Tags          []string `json:"tags,omitempty"`
	FQDN          bool     `json:"fqdn,omitempty"`
	// ExtraPrefix is where extra fields go (default "extra"); String("") puts
	// them at the top level of the event.
	ExtraPrefix *string        `json:"extra_prefix,omitempty"`
	Extra       map[string]any `json:"extra,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	EnsureASCII *bool          `json:"ensure_ascii,omitempty"` // default true

	EventTTL                  float64  `json:"event_ttl,omitempty"`      // seconds; default: none
	SocketTimeout             float64  `json:"socket_timeout,omitempty"` // seconds; default 5
	QueueCheckInterval        float64  `json:"queue_check_interval,omitempty"`
	QueuedEventsFlushInterval *float64 `json:"queued_events_flush_interval,omitempty"` // default 10
	QueuedEventsFlushCount    int      `json:"queued_events_flush_count,omitempty"`
	QueuedEventsBatchSize     int      `json:"queued_events_batch_size,omitempty"`

	MaxEventBytes     int    `json:"max_event_bytes,omitempty"`
	MaxQueueEvents    int    `json:"max_queue_events,omitempty"`
	MaxDatabaseEvents int64  `json:"max_database_events,omitempty"`
	MaxDatabaseBytes  int64  `json:"max_database_bytes,omitempty"`
	OverflowPolicy    string `json:"overflow_policy,omitempty"`  // "drop_newest" (default), "drop_oldest", "block"
	BlockTimeoutMs    *int   `json:"block_timeout_ms,omitempty"` // default 100

	BackoffInitial float64 `json:"backoff_initial,omitempty"` // seconds; default 1
	BackoffMax     float64 `json:"backoff_max,omitempty"`     // seconds; default 60
	StderrErrors   *bool   `json:"stderr_errors,omitempty"`   // default true
}

// Bool returns a pointer to v, for the optional fields of Config.
func Bool(v bool) *bool { return &v }

// String returns a pointer to v, for the optional fields of Config.
func String(v string) *string { return &v }

// Float returns a pointer to v, for the optional fields of Config.
func Float(v float64) *float64 { return &v }

// Int returns a pointer to v, for the optional fields of Config.
func Int(v int) *int { return &v }
