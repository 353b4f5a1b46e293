//go:build !logstash_async_dev && !logstash_async_static

package logstashasync

// Production linking: the library installed with its pkg-config file
// (logstash_async.pc), shared. Point PKG_CONFIG_PATH at <prefix>/lib/pkgconfig
// for a prefix pkg-config does not search.

// #cgo pkg-config: logstash_async
import "C"
