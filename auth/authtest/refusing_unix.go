//go:build unix

package authtest

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// RefusingAddr returns a 127.0.0.1 address where connections are refused
// for as long as the test runs: a TCP socket bound to the port but not
// listening holds it (no other process can take it, unlike a FreePort that
// was closed), and the kernel answers connection attempts with a reset.
// Use it for "the server is down".
func RefusingAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind 127.0.0.1:0: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}
