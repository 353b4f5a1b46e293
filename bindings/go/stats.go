package logstashasync

// Stats are the library's counters for one Client (each counter is exact on
// its own; a snapshot is not one atomic cut across all of them).
type Stats struct {
	Emitted              uint64 `json:"emitted"`               // events accepted by emit/log
	Rejected             uint64 `json:"rejected"`              // events refused for bad input
	Queued               uint64 `json:"queued"`                // waiting in the in-memory queue
	Buffered             uint64 `json:"buffered"`              // stored in SQLite, not yet delivered
	Sent                 uint64 `json:"sent"`                  // delivered
	Resent               uint64 `json:"resent"`                // sent again after a connection failure
	DroppedQueueFull     uint64 `json:"dropped_queue_full"`    // refused: queue full
	DroppedOldest        uint64 `json:"dropped_oldest"`        // evicted by overflow_policy "drop_oldest"
	DroppedDatabaseFull  uint64 `json:"dropped_database_full"` // refused: database bounds
	DroppedUndeliverable uint64 `json:"dropped_undeliverable"` // e.g. too large for a datagram
	DroppedAtShutdown    uint64 `json:"dropped_at_shutdown"`   // lost at Close (":memory:")
	Expired              uint64 `json:"expired"`               // older than event_ttl
	SendErrors           uint64 `json:"send_errors"`
	Connects             uint64 `json:"connects"`
	DatabaseErrors       uint64 `json:"database_errors"`
	LastError            string `json:"last_error"` // "" when none

	// The kafka transport's own counters (0 with other transports).
	KafkaProduced  uint64 `json:"kafka_produced"`  // messages handed to librdkafka
	KafkaDelivered uint64 `json:"kafka_delivered"` // successful delivery reports
	KafkaFailed    uint64 `json:"kafka_failed"`    // delivery reports with an error
	KafkaInFlight  uint64 `json:"kafka_in_flight"` // messages awaiting a delivery report
}
