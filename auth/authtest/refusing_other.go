//go:build !unix

package authtest

import (
	"net"
	"strconv"
	"testing"
)

// RefusingAddr returns a 127.0.0.1 address where nothing listened a moment
// ago (on unix it is held for the test; here it is only FreePort's).
func RefusingAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
