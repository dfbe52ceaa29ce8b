//go:build !unix

package authtest

// Pause freezes the server; without SIGSTOP the test is skipped.
func (r *Redis) Pause() { r.t.Skip("pausing a process needs SIGSTOP (unix)") }

// Resume lets a paused server run again.
func (r *Redis) Resume() {}
