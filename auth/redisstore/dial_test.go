package redisstore

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
)

// TestDialResultTypedNil: a failed TLS dial returns a nil *tls.Conn as a
// non-nil net.Conn; staggeredDial closes the connections of dials that lost
// the race, and closing that one panicked (seen with Redis over TLS under
// load). The result of a failed dial holds no connection.
func TestDialResultTypedNil(t *testing.T) {
	var failed *tls.Conn
	r := newDialResult(failed, errors.New("tls: failed to verify certificate"))
	if r.c != nil || r.err == nil {
		t.Errorf("failed TLS dial: conn %#v, err %v; want a nil conn and the error", r.c, r.err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if r := newDialResult(a, nil); r.c != a || r.err != nil {
		t.Errorf("successful dial: conn %v, err %v; want the connection", r.c, r.err)
	}
}
