package memstore

import (
	"context"
	"sync"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// auditRing keeps the newest audit events in a fixed-size ring.
type auditRing struct {
	mu     sync.Mutex
	max    int
	events []auth.AuditEvent // ring storage, len ≤ max
	next   int               // where the next event goes once full
}

// SetAuditMax sets how many audit events the store keeps (audit.max_events);
// n ≤ 0 is auth.DefaultAuditMax. Events beyond the new maximum are dropped,
// oldest first.
func (s *Store) SetAuditMax(n int) {
	if n <= 0 {
		n = auth.DefaultAuditMax
	}
	r := &s.audit
	r.mu.Lock()
	defer r.mu.Unlock()
	all := r.newestFirst()
	if len(all) > n {
		all = all[:n]
	}
	r.max, r.next = n, 0
	r.events = make([]auth.AuditEvent, 0, min(n, 1024))
	for i := len(all) - 1; i >= 0; i-- {
		r.add(all[i])
	}
}

// AppendAudit keeps e; see auth.AuditLog.
func (s *Store) AppendAudit(ctx context.Context, e auth.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	r := &s.audit
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.max == 0 {
		r.max = auth.DefaultAuditMax
	}
	r.add(e)
	return nil
}

func (r *auditRing) add(e auth.AuditEvent) {
	if len(r.events) < r.max {
		r.events = append(r.events, e)
		return
	}
	r.events[r.next] = e
	r.next = (r.next + 1) % r.max
}

// newestFirst copies the ring, newest event first. r.mu is held.
func (r *auditRing) newestFirst() []auth.AuditEvent {
	n := len(r.events)
	out := make([]auth.AuditEvent, 0, n)
	for i := 0; i < n; i++ {
		// the newest is just before next (or the last appended while filling)
		j := (r.next - 1 - i + 2*n) % n
		if n < r.max {
			j = n - 1 - i
		}
		out = append(out, r.events[j])
	}
	return out
}

// ListAudit returns the matching events, newest first; see auth.AuditLog.
func (s *Store) ListAudit(ctx context.Context, f auth.AuditFilter) ([]auth.AuditEvent, error) {
	limit := auth.AuditPageLimit(f.Limit)
	r := &s.audit
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.events)
	out := []auth.AuditEvent{}
	for i := 0; i < n && len(out) < limit; i++ {
		j := (r.next - 1 - i + 2*n) % n
		if n < r.max {
			j = n - 1 - i
		}
		e := r.events[j]
		if !f.Since.IsZero() && e.Time.Before(f.Since) {
			break
		}
		if (f.User == "" || e.User == f.User) && (f.Kind == "" || e.Kind == f.Kind) {
			out = append(out, e)
		}
	}
	return out, nil
}
