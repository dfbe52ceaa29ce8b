package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Subscription health: with no traffic for pingEvery the subscriber pings;
// with nothing received for healthWindow the cache stops being used.
const (
	pingEvery    = time.Second
	healthWindow = 3 * time.Second
)

// JTIRevoked reports whether the key revoked:jti:<jti> exists. A cached
// answer costs no allocation and no round trip; concurrent misses share
// pipelined round trips (coalescer, batch.go).
func (s *Store) JTIRevoked(ctx context.Context, jti string) (bool, error) {
	if revoked, ok := s.cache.jti(jti, time.Now()); ok {
		return revoked, nil
	}
	return s.jtis.get(ctx, jti)
}

// jtiRevoked is JTIRevoked's round trip for one jti.
func (s *Store) jtiRevoked(ctx context.Context, jti string) (bool, error) {
	now := time.Now()
	epoch := s.cache.epoch.Load()
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	n, err := s.rdb.Exists(ctx, s.keys.jti+jti).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: check revoked jti: %w", err)
	}
	s.cache.putJTI(epoch, jti, n > 0, now)
	return n > 0, nil
}

// jtisRevoked is JTIRevoked's round trip for several jtis: one EXISTS
// each, in one pipeline (go-redis splits it by node on a cluster).
func (s *Store) jtisRevoked(ctx context.Context, jtis []string, revoked []bool, errs []error) {
	now := time.Now()
	epoch := s.cache.epoch.Load()
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	cmds := make([]*redis.IntCmd, len(jtis))
	_, perr := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, jti := range jtis {
			cmds[i] = p.Exists(ctx, s.keys.jti+jti)
		}
		return nil
	})
	for i, cmd := range cmds {
		if err := cmdErr(cmd, perr); err != nil {
			errs[i] = fmt.Errorf("redisstore: check revoked jti: %w", err)
			continue
		}
		revoked[i] = cmd.Val() > 0
	}
	putAll(s.cache, s.cache.jtis, epoch, jtis, revoked, errs, now)
}

// SubjectRevokedAt reads revoked:sub:<sub>, UNIX seconds as a decimal
// string; the zero time when absent. Any other value is an error, so that
// a malformed revocation is never read as "not revoked". Cached and
// coalesced as JTIRevoked.
func (s *Store) SubjectRevokedAt(ctx context.Context, sub string) (time.Time, error) {
	if at, ok := s.cache.sub(sub, time.Now()); ok {
		return at, nil
	}
	return s.subs.get(ctx, sub)
}

// subjectRevokedAt is SubjectRevokedAt's round trip for one subject.
func (s *Store) subjectRevokedAt(ctx context.Context, sub string) (time.Time, error) {
	now := time.Now()
	epoch := s.cache.epoch.Load()
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	at, err := subjectAt(s.rdb.Get(ctx, s.keys.sub+sub).Result())
	if err != nil {
		return time.Time{}, err
	}
	s.cache.putSub(epoch, sub, at, now)
	return at, nil
}

// subjectsRevokedAt is SubjectRevokedAt's round trip for several
// subjects: one GET each, in one pipeline.
func (s *Store) subjectsRevokedAt(ctx context.Context, subs []string, ats []time.Time, errs []error) {
	now := time.Now()
	epoch := s.cache.epoch.Load()
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	cmds := make([]*redis.StringCmd, len(subs))
	_, perr := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sub := range subs {
			cmds[i] = p.Get(ctx, s.keys.sub+sub)
		}
		return nil
	})
	for i, cmd := range cmds {
		ats[i], errs[i] = subjectAt(cmd.Val(), cmdErr(cmd, perr))
	}
	putAll(s.cache, s.cache.subs, epoch, subs, ats, errs, now)
}

// subjectAt is the revocation time in a GET's reply: the zero time for
// no key.
func subjectAt(v string, err error) (time.Time, error) {
	switch {
	case errors.Is(err, redis.Nil):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("redisstore: read subject revocation: %w", err)
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("redisstore: subject revocation is not UNIX seconds: %w", err)
	}
	return time.Unix(secs, 0), nil
}

// cmdErr is a pipelined command's failure: its own error (redis.Nil
// included), else the pipeline's, unless that is only a reply to another
// command (a redis.Error, or redis.Nil), so that a failure that may have
// left cmd unsent never reads as its zero reply.
func cmdErr(cmd redis.Cmder, pipe error) error {
	if err := cmd.Err(); err != nil {
		return err
	}
	var reply redis.Error
	if pipe == nil || errors.Is(pipe, redis.Nil) || errors.As(pipe, &reply) {
		return nil
	}
	return pipe
}

// RevokeJTI sets revoked:jti:<jti> with an expiry at exp and publishes the
// key. An exp already past (or within a millisecond) records nothing.
func (s *Store) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	ttl := exp.Sub(s.now())
	if ttl < time.Millisecond {
		return nil
	}
	if err := s.writeRevocation(ctx, s.keys.jti+jti, "1", ttl); err != nil {
		return fmt.Errorf("redisstore: revoke jti: %w", err)
	}
	return nil
}

// RevokeSubject sets revoked:sub:<sub> to at in UNIX seconds, without
// expiry, and publishes the key. The last write wins.
func (s *Store) RevokeSubject(ctx context.Context, sub string, at time.Time) error {
	if err := s.writeRevocation(ctx, s.keys.sub+sub, strconv.FormatInt(at.Unix(), 10), 0); err != nil {
		return fmt.Errorf("redisstore: revoke subject: %w", err)
	}
	return nil
}

// writeRevocation sets key and publishes it in one pipeline, and drops the
// local answer whatever the outcome.
func (s *Store) writeRevocation(ctx context.Context, key, value string, ttl time.Duration) error {
	defer s.cache.invalidate(s.keys, key)
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, value, ttl)
		p.Publish(ctx, s.keys.channel, key)
		return nil
	})
	return err
}

// subscribeLoop keeps the subscription to the revocations channel, feeds
// invalidations to the cache and tells the cache whether it is healthy.
// go-redis reconnects and resubscribes on the next receive after an error.
func (s *Store) subscribeLoop(ctx context.Context) {
	defer s.done.Done()
	_ = s.ps.Subscribe(ctx, s.keys.channel) // remembered even when it fails
	backoff := newBackoff()
	up := false
	for ctx.Err() == nil {
		msg, err := s.ps.ReceiveTimeout(ctx, pingEvery)
		if err != nil {
			if isTimeout(err) {
				_ = s.ps.Ping(ctx) // the pong, or an error, comes next
				continue
			}
			if up {
				s.log.Warn("redis revocation subscription lost; answering from redis until it is back", "err", err)
			}
			up = false
			s.cache.down()
			backoff.wait(ctx)
			continue
		}
		backoff.reset()
		now := time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				s.cache.reset() // invalidations may have been missed
				if !up {
					s.log.Info("redis revocation subscription established", "channel", s.keys.channel)
				}
				up = true
			}
		case *redis.Message:
			s.cache.invalidate(s.keys, m.Payload)
		}
		if up {
			s.cache.healthy(now, healthWindow)
		}
	}
}

// sweepLoop drops expired cache entries every second.
func (s *Store) sweepLoop(ctx context.Context) {
	defer s.done.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.cache.sweep(now)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// backoff waits 50 ms, doubling to 1 s, between failed receives.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 50 * time.Millisecond} }

func (b *backoff) reset() { b.d = 50 * time.Millisecond }

func (b *backoff) wait(ctx context.Context) {
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	b.d = min(2*b.d, time.Second)
}
