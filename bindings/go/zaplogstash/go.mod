module github.com/logstash-async/logstash-async/bindings/go/zaplogstash

go 1.19

require (
	github.com/logstash-async/logstash-async/bindings/go v0.0.0-00010101000000-000000000000
	go.uber.org/zap v1.27.1
)

require go.uber.org/multierr v1.10.0 // indirect

// Inside this repository the binding is the directory above; a user's go.mod
// resolves it by version instead (a replace here is ignored for dependents).
replace github.com/logstash-async/logstash-async/bindings/go => ../
