//go:build unix

package authtest

import "syscall"

// Pause freezes the server with SIGSTOP: its connections stay open and the
// kernel keeps accepting new ones into the listen backlog, but nothing is
// answered (a hung process or a stalled VM, as seen by clients). Pausing a
// stopped server does nothing.
func (r *Redis) Pause() { r.signal(syscall.SIGSTOP) }

// Resume lets a paused server run again with SIGCONT.
func (r *Redis) Resume() { r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("redis-server on %s: %v: %v", r.Addr, sig, err)
	}
}
