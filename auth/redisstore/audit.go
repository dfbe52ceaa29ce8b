package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// The audit trail is the stream <prefix>audit (README "The Redis key
// schema"): one entry per event with the fields time (UNIX ms), kind,
// user, actor, ip, detail and request_id. Every XADD trims the stream to
// exactly the store's maximum (MAXLEN without ~): once full, each append
// drops one entry, so trimming costs O(1) per event and the stream never
// holds more than audit.max_events.

// auditScanBatch is how many entries one XREVRANGE of ListAudit reads.
const auditScanBatch = 500

// SetAuditMax sets how many audit events the stream keeps
// (audit.max_events); n ≤ 0 is auth.DefaultAuditMax. It takes effect at
// the next append. Call it before the store is shared.
func (s *Store) SetAuditMax(n int) {
	if n <= 0 {
		n = auth.DefaultAuditMax
	}
	s.auditMax = n
}

func (s *Store) auditLimit() int {
	if s.auditMax <= 0 {
		return auth.DefaultAuditMax
	}
	return s.auditMax
}

// AppendAudit adds e to the stream in one XADD; see auth.AuditLog.
func (s *Store) AppendAudit(ctx context.Context, e auth.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	return s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: s.keys.audit,
		MaxLen: int64(s.auditLimit()),
		Values: []any{
			"time", strconv.FormatInt(e.Time.UnixMilli(), 10),
			"kind", e.Kind, "user", e.User, "actor", e.Actor, "ip", e.IP,
			"detail", e.Detail, "request_id", e.RequestID,
		},
	}).Err()
}

// ListAudit reads the stream newest first in batches of auditScanBatch
// (XREVRANGE), keeping the entries that match f, until it has f's limit,
// reaches f.Since, or has read the whole stream (at most the store's
// maximum entries); see auth.AuditLog.
func (s *Store) ListAudit(ctx context.Context, f auth.AuditFilter) ([]auth.AuditEvent, error) {
	limit := auth.AuditPageLimit(f.Limit)
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	out := []auth.AuditEvent{}
	end, scanned := "+", 0
	for scanned < s.auditLimit()+auditScanBatch {
		msgs, err := s.rdb.XRevRangeN(ctx, s.keys.audit, end, "-", auditScanBatch).Result()
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			e := auditEvent(m.Values)
			if !f.Since.IsZero() && e.Time.Before(f.Since) {
				return out, nil
			}
			if (f.User == "" || e.User == f.User) && (f.Kind == "" || e.Kind == f.Kind) {
				out = append(out, e)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		scanned += len(msgs)
		if len(msgs) < auditScanBatch {
			break
		}
		end = "(" + msgs[len(msgs)-1].ID
	}
	return out, nil
}

func auditEvent(v map[string]any) auth.AuditEvent {
	str := func(k string) string { s, _ := v[k].(string); return s }
	ms, _ := strconv.ParseInt(str("time"), 10, 64)
	return auth.AuditEvent{
		Time: time.UnixMilli(ms), Kind: str("kind"), User: str("user"), Actor: str("actor"),
		IP: str("ip"), Detail: str("detail"), RequestID: str("request_id"),
	}
}
