//go:build logstash_async_dev

package logstashasync

// Development linking (go build -tags logstash_async_dev): the header and the
// library straight from this repository's tree, after `cargo build --release`
// at its root. The rpath lets test binaries find the .so without
// LD_LIBRARY_PATH; never ship a binary built this way.

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #cgo LDFLAGS: -L${SRCDIR}/../../target/release -llogstash_async -Wl,-rpath,${SRCDIR}/../../target/release
import "C"
