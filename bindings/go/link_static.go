//go:build logstash_async_static && !logstash_async_dev

package logstashasync

// Static linking (go build -tags logstash_async_static): the package adds no
// flags of its own; CGO_CFLAGS names the header's directory and CGO_LDFLAGS
// the installed liblogstash_async.a with the system libraries it needs, so
// the binary does not need liblogstash_async.so at run time. With
// -ldflags '-linkmode external -extldflags -static' it needs no shared
// library at all (a scratch or distroless/static image). See README.md,
// "A static binary".
