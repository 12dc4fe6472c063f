package rest

import (
	"bytes"
	"sync"
)

// bodies holds the buffers answers are encoded into. An answer's bytes are written to the
// ResponseWriter before its buffer comes back (a Writer does not keep what it is given), so
// a buffer serves one answer at a time.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept for reuse: one huge page must not pin its memory.
const maxPooledBody = 64 << 10

func getBody() *bytes.Buffer { return bodies.Get().(*bytes.Buffer) }

func putBody(b *bytes.Buffer) {
	if b.Cap() > maxPooledBody {
		return
	}
	b.Reset()
	bodies.Put(b)
}
