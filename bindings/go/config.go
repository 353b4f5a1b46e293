package logstashasync

// Config holds the library's options (README, "Configuration"), one field per
// option, with python-logstash-async's names as JSON keys. A field left at its
// zero value is omitted, so the library's default applies; options whose zero
// value is meaningful and differs from the default are pointers (set them
// with Bool, String, Float and Int). Times are in seconds, as in Python.
//
// The library validates the options: New returns a *ConfigError carrying its
// message when one is invalid. NewJSON takes any configuration object, for
// options this Config does not know.
//
// Adding an option is one line: a field with the option's name as its JSON
// tag, with omitempty (TestConfigCoversEveryOption compares the fields with
// the README's tables of options).
type Config struct {
	Host      string   `json:"host,omitempty"`      // required unless Hosts is given
	Port      int      `json:"port,omitempty"`      // default 5959 (5044 beats, 9092 kafka, 6379 redis)
	Hosts     []string `json:"hosts,omitempty"`     // instead of Host/Port: "a:5044", "[::1]:5044", "b"
	Transport string   `json:"transport,omitempty"` // "tcp" (default), "udp", "beats", "http", "kafka" or "redis"
	Formatter string   `json:"formatter,omitempty"` // "logstash" (default) or "ecs"

	Loadbalance      bool    `json:"loadbalance,omitempty"`       // with Hosts: spread batches over all healthy hosts
	CompressionLevel *int    `json:"compression_level,omitempty"` // beats: zlib level, default 3; Int(0) = uncompressed
	BeatsWindowSize  int     `json:"beats_window_size,omitempty"` // beats: default 256
	BeatsAckTimeout  float64 `json:"beats_ack_timeout,omitempty"` // beats: seconds, default 30

	Path             string `json:"path,omitempty"`               // http: default "/"
	Username         string `json:"username,omitempty"`           // http: Basic auth; kafka: SASL/PLAIN; redis: AUTH (ACL user)
	Password         string `json:"password,omitempty"`           // http: Basic auth; kafka: SASL/PLAIN; redis: AUTH
	MaxContentLength int    `json:"max_content_length,omitempty"` // http: bytes per request, default 100 MiB

	KafkaBrokers     []string       `json:"kafka_brokers,omitempty"`     // kafka: "k1:9092", "k2" (instead of Host/Hosts)
	KafkaTopic       string         `json:"kafka_topic,omitempty"`       // kafka: default "logstash"
	KafkaKeyField    string         `json:"kafka_key_field,omitempty"`   // kafka: event field keying the message, e.g. "extra.user"
	KafkaCompression string         `json:"kafka_compression,omitempty"` // kafka: "none" (default), "gzip", "snappy", "lz4", "zstd"
	KafkaAcks        string         `json:"kafka_acks,omitempty"`        // kafka: "all" (default), "1" or "0" (with KafkaIdempotence false)
	KafkaIdempotence *bool          `json:"kafka_idempotence,omitempty"` // kafka: default true
	KafkaProperties  map[string]any `json:"kafka_properties,omitempty"`  // kafka: other librdkafka properties
	RedisKey         string         `json:"redis_key,omitempty"`         // redis: the list, default "logstash"
	RedisDB          int            `json:"redis_db,omitempty"`          // redis: the database, default 0

	SSLEnable bool `json:"ssl_enable,omitempty"`
	// SSLVerify is true by default (chain and host name checked); Bool(false)
	// checks nothing, "certificate" checks the chain but NOT the host name,
	// and any other string is a CA file (as python-logstash-async takes it).
	SSLVerify      any    `json:"ssl_verify,omitempty"`
	CACerts        string `json:"ca_certs,omitempty"`
	CertFile       string `json:"certfile,omitempty"`
	KeyFile        string `json:"keyfile,omitempty"`
	SSLKeyPassword string `json:"ssl_key_password,omitempty"` // passphrase of an encrypted KeyFile
	SSLMinVersion  string `json:"ssl_min_version,omitempty"`  // "1.2" or "1.3"
	SSLServerName  string `json:"ssl_server_name,omitempty"`

	// Event shaping (README, "Event shaping"): paths of the final layout,
	// such as "extra.user.email"; applied in this order on the worker.
	RenameFields map[string]string `json:"rename_fields,omitempty"` // old path -> new path
	DropFields   []string          `json:"drop_fields,omitempty"`
	MaskFields   []string          `json:"mask_fields,omitempty"`
	MaskMode     string            `json:"mask_mode,omitempty"` // "fixed" (default, "***") or "sha256"
	MaskPatterns []MaskPattern     `json:"mask_patterns,omitempty"`

	DatabasePath string   `json:"database_path,omitempty"` // default ":memory:"
	Enable       *bool    `json:"enable,omitempty"`        // default true
	MessageType  string   `json:"message_type,omitempty"`  // default "python-logstash"
	Tags         []string `json:"tags,omitempty"`
	FQDN         bool     `json:"fqdn,omitempty"`
	// ExtraPrefix is where extra fields go (default "extra"); String("") puts
	// them at the top level of the event.
	ExtraPrefix *string        `json:"extra_prefix,omitempty"`
	Extra       map[string]any `json:"extra,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	EnsureASCII *bool          `json:"ensure_ascii,omitempty"` // default true
	Encoding    string         `json:"encoding,omitempty"`     // "utf-8" only (python-logstash-async's option)

	EventTTL                  float64  `json:"event_ttl,omitempty"`      // seconds; default: none
	SocketTimeout             float64  `json:"socket_timeout,omitempty"` // seconds; default 5
	QueueCheckInterval        float64  `json:"queue_check_interval,omitempty"`
	QueuedEventsFlushInterval *float64 `json:"queued_events_flush_interval,omitempty"` // default 10
	QueuedEventsFlushCount    int      `json:"queued_events_flush_count,omitempty"`
	QueuedEventsBatchSize     int      `json:"queued_events_batch_size,omitempty"`

	Level             string `json:"level,omitempty"` // events below it are discarded: "DEBUG" (default), "INFO", "WARNING", "ERROR", "CRITICAL"
	MaxEventBytes     int    `json:"max_event_bytes,omitempty"`
	MaxQueueEvents    int    `json:"max_queue_events,omitempty"`
	MaxDatabaseEvents int64  `json:"max_database_events,omitempty"`
	MaxDatabaseBytes  int64  `json:"max_database_bytes,omitempty"`
	OverflowPolicy    string `json:"overflow_policy,omitempty"`  // "drop_newest" (default), "drop_oldest", "block"
	BlockTimeoutMs    *int   `json:"block_timeout_ms,omitempty"` // default 100

	BackoffInitial float64 `json:"backoff_initial,omitempty"` // seconds; default 1
	BackoffMax     float64 `json:"backoff_max,omitempty"`     // seconds; default 60
	StderrErrors   *bool   `json:"stderr_errors,omitempty"`   // default true
	// HandleName is the handle label of StatsPrometheus (default: the
	// handle's number in the process).
	HandleName string `json:"handle_name,omitempty"`
}

// MaskPattern is one entry of Config.MaskPatterns: a regular expression
// (Rust regex syntax) whose matches in string values are replaced by
// Replacement ($1, ${name} insert groups), or by the MaskMode mask when
// Replacement is nil.
type MaskPattern struct {
	Pattern     string  `json:"pattern"`
	Replacement *string `json:"replacement,omitempty"`
}

// Bool returns a pointer to v, for the optional fields of Config.
func Bool(v bool) *bool { return &v }

// String returns a pointer to v, for the optional fields of Config.
func String(v string) *string { return &v }

// Float returns a pointer to v, for the optional fields of Config.
func Float(v float64) *float64 { return &v }

// Int returns a pointer to v, for the optional fields of Config.
func Int(v int) *int { return &v }
