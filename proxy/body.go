package proxy

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// clientBody wraps a proxied request's body. It remembers the first error
// reading it, so that the ErrorHandler can tell a client's broken body (bad
// chunking, a stall, a client that left) from an upstream failure; and,
// with a timeout, it sets the connection's read deadline before each Read,
// so that a body that sends nothing for that long ends the request (and the
// upstream connection the Transport was writing it to).
type clientBody struct {
	io.ReadCloser
	rc      *http.ResponseController // nil: no timeout
	timeout time.Duration

	mu   sync.Mutex
	err  error // first read error other than io.EOF
	done bool  // a Read returned an error (io.EOF included)
}

// wrapBody installs a clientBody on r when it has one. The deadline is set
// on the client's connection, which is why it is not set for upgrades (the
// hijacked connection must not inherit it).
func (h *Handler) wrapBody(w http.ResponseWriter, r *http.Request, x *exchange) *clientBody {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	b := &clientBody{ReadCloser: r.Body}
	if h.bodyTimeout > 0 && !isWebSocket(r) {
		b.rc, b.timeout = http.NewResponseController(w), h.bodyTimeout
	}
	r.Body = b
	x.body = b
	return b
}

func (b *clientBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	if done {
		// After io.EOF the server reads the connection in the
		// background; a deadline now would end the request.
		return b.ReadCloser.Read(p)
	}
	if b.rc != nil {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.mu.Lock()
		if err == io.EOF {
			if !b.done && b.rc != nil {
				_ = b.rc.SetReadDeadline(time.Time{})
			}
		} else if b.err == nil {
			// The deadline stays (expired, after a stall): the server
			// then discards the rest of the body before answering, and
			// without it that discard would wait for the stalled client
			// forever.
			b.err = err
		}
		b.done = true
		b.mu.Unlock()
	}
	return n, err
}

// readErr returns the body's first read error other than io.EOF, or nil.
func (b *clientBody) readErr() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// finish runs when the handler is done with the request. A body not read
// to its end is discarded by the server afterwards (up to 256 KiB): bound
// that too, so a stalled client cannot hold its connection.
func (b *clientBody) finish() {
	if b == nil || b.rc == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
}
