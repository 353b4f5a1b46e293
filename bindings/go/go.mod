module github.com/logstash-async/logstash-async/bindings/go

go 1.19
