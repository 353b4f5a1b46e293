//go:build !logstash_async_dev

package logstashasync

// Production linking: the library installed with its pkg-config file
// (logstash_async.pc). Point PKG_CONFIG_PATH at a build tree's .pc to test
// against an uninstalled library (scripts/tests.d/30-go.sh does).

// #cgo pkg-config: logstash_async
import "C"
