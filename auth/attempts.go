package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"time"
)

// Rate is N events per Per (login.rate "5/min" is {5, time.Minute}).
type Rate struct {
	N   int
	Per time.Duration
}

// Interval is the time one event's token takes to come back: Per / N.
func (r Rate) Interval() time.Duration { return r.Per / time.Duration(r.N) }

// Attempt names the two buckets one password attempt is counted in: that
// of (User, IP), limited by PerUser, and that of IP, limited by PerIP.
type Attempt struct {
	User           string
	IP             netip.Addr
	PerUser, PerIP Rate
}

// UserHash is the hex SHA-256 (first 16 bytes) of User: stores key the
// (user, IP) bucket by it, so that a long username costs no more memory
// than a short one.
func (a Attempt) UserHash() string {
	sum := sha256.Sum256([]byte(a.User))
	return hex.EncodeToString(sum[:16])
}

// LoginAttempts counts password attempts in token buckets (README "Login throttling",
// "login throttling"). A bucket of Rate{N, Per} holds N attempts and gets
// one back every Per/N, so "5/min" allows five attempts at once and one
// more every 12 s. Counting happens before the password is checked, and a
// successful login gives its attempt back. The Redis store shares the
// buckets between replicas; the memory store keeps them in process.
// Implementations are safe for concurrent use; errors other than context
// cancellation mean the counters could not answer.
type LoginAttempts interface {
	// ReserveAttempt takes one attempt from both of a's buckets, or from
	// neither: when either is empty it takes none and returns a positive
	// wait, how long until both hold one.
	ReserveAttempt(ctx context.Context, a Attempt) (wait time.Duration, err error)
	// RefundAttempt gives a reserved attempt back to both buckets (the
	// password was not checked).
	RefundAttempt(ctx context.Context, a Attempt) error
	// ClearAttempts ends a successful login: the attempt goes back to the
	// IP bucket and the (user, IP) bucket is full again.
	ClearAttempts(ctx context.Context, a Attempt) error
}
