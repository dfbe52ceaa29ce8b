// Package redisstore is the Redis auth.Store, for Gatehouse replicas that
// share revocations and sessions. It follows the public key schema of
// README "The Redis key schema" and works on a standalone server, a Redis Cluster (no
// command touches two keys) and Sentinel.
//
// Revocation answers are cached in process for Options.CacheTTL and dropped
// as soon as a message on the revocations channel names their key; while
// that subscription is down the cache is not used. Concurrent cache misses
// share pipelined round trips (batch.go).
package redisstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// Defaults for the zero values of Options.
const (
	DefaultKeyPrefix = "gatehouse:"
	DefaultTimeout   = 250 * time.Millisecond
	DefaultCacheTTL  = 500 * time.Millisecond
	// MaxCacheTTL bounds CacheTTL: a key written without a publish must
	// take effect within a second (README "The Redis key schema").
	MaxCacheTTL = time.Second
)

// Options configures a Store. The zero value of each field is documented
// on it; Addrs is required.
type Options struct {
	// Addrs: one is a standalone server; several a cluster; with
	// MasterName they are the sentinels.
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int // ignored by Redis Cluster
	// TLS connects with TLS 1.2 or later and verifies each server's
	// certificate for the host of the address dialled (the one address,
	// for a standalone server). false: plain TCP.
	TLS bool
	// RootCAs are the CAs TLS trusts; nil: the system roots.
	RootCAs   *x509.CertPool
	KeyPrefix string // "" → DefaultKeyPrefix
	// Timeout bounds each store call (all its round trips), separately
	// from the caller's context. 0 → DefaultTimeout.
	Timeout time.Duration
	// CacheTTL is how long a revocation answer is reused locally. 0 →
	// DefaultCacheTTL; < 0 → never cached; > MaxCacheTTL is an error.
	CacheTTL time.Duration
	// Observe, if not nil, is called after every Redis command the store
	// sends (pipelined ones included), with the lower-case command name,
	// its duration and its error (nil for a nil reply). A pipelined
	// command's duration is its pipeline's: concurrent revocation lookups
	// share pipelines (batch.go), so each of their EXISTS and GET is
	// observed, with its pipeline's duration. It must be safe for
	// concurrent use and fast.
	Observe func(op string, d time.Duration, err error)
	// TracerProvider, if not nil, makes a client span of every Redis
	// command sent under a caller's span (trace.go). Nil: no tracing.
	TracerProvider trace.TracerProvider
	// Logger receives subscription state changes; nil discards them.
	Logger *slog.Logger
	// Now is the clock for expiries computed in process (a revoked jti's
	// TTL, a session's LastSeen); nil → time.Now. Redis keeps its own
	// clock for the TTLs themselves.
	Now func() time.Time
}

// Store is an auth.Store on Redis. It is safe for concurrent use. Make it
// with New and release it with Close.
type Store struct {
	rdb     redis.UniversalClient
	keys    keys
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	cache   *cache
	// jtis and subs coalesce concurrent cache misses (batch.go).
	jtis coalescer[bool]
	subs coalescer[time.Time]

	ps     *redis.PubSub
	cancel context.CancelFunc
	done   sync.WaitGroup
	once   sync.Once
	bg     background // forced-logout cleanups (cleanup.go)

	auditMax int // audit.max_events (audit.go)
}

// keys builds every key of the schema by concatenation: user data is never
// a pattern and never splits into two keys or commands.
type keys struct {
	jti, sub, session, userSessions, channel string
	// sessionIndex is the per-user sorted set of sessions (sessions.go);
	// sessionEpoch the per-user forced-logout counter. userSessions is
	// the index of releases before it, no longer written.
	sessionIndex, sessionEpoch string
	// sessionExpiries is the global sorted set of every session's expiry
	// (sessions.go), counted for the console's overview.
	sessionExpiries string
	audit           string // the audit stream (audit.go)
}

func newKeys(prefix string) keys {
	return keys{
		jti:             prefix + "revoked:jti:",
		sub:             prefix + "revoked:sub:",
		session:         prefix + "session:",
		userSessions:    prefix + "user-sessions:",
		channel:         prefix + "revocations",
		sessionIndex:    prefix + "session-index:",
		sessionEpoch:    prefix + "session-epoch:",
		sessionExpiries: prefix + "session-expiries",
		audit:           prefix + "audit",
	}
}

// New builds the Redis client and starts the revocation subscription in
// the background. It does no network I/O: it succeeds while Redis is
// unreachable, and Ping tells when it answers.
func New(o Options) (*Store, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("redisstore: no addresses")
	}
	if o.CacheTTL > MaxCacheTTL {
		return nil, fmt.Errorf("redisstore: cache TTL %v exceeds %v, the bound for revocations written without a publish", o.CacheTTL, MaxCacheTTL)
	}
	o = withDefaults(o)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: o.Addrs, MasterName: o.MasterName,
		Username: o.Username, Password: o.Password, DB: o.DB,
		TLSConfig:             tlsConfig(o),
		DialTimeout:           max(o.Timeout, time.Second),
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
		DialerRetries:         1, // fail fast: the caller decides (store.on_error)
		DisableIdentity:       true,
		// Redis before 8 answers the handshake with an error; nothing here
		// uses maintenance notifications.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	installDialHook(rdb)
	if o.Observe != nil {
		rdb.AddHook(observeHook(o.Observe))
	}
	if o.TracerProvider != nil {
		rdb.AddHook(newTraceHook(o.TracerProvider))
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		rdb.AddHook(reloadHook{cc})
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		rdb: rdb, keys: newKeys(o.KeyPrefix), timeout: o.Timeout,
		now: o.Now, log: o.Logger, cache: newCache(o.CacheTTL),
		ps: rdb.Subscribe(ctx), cancel: cancel,
	}
	s.jtis.what, s.jtis.one, s.jtis.many = "check revoked jti", s.jtiRevoked, s.jtisRevoked
	s.subs.what, s.subs.one, s.subs.many = "read subject revocation", s.subjectRevokedAt, s.subjectsRevokedAt
	s.bg.ctx = ctx
	s.done.Add(2)
	go s.subscribeLoop(ctx)
	go s.sweepLoop(ctx)
	return s, nil
}

// tlsConfig is the client TLS config for o: nil without TLS. A standalone
// server's name is its address's host; for a cluster or Sentinel, each
// connection verifies the host it dials (crypto/tls's default), since a
// node or the master is not the address configured.
func tlsConfig(o Options) *tls.Config {
	if !o.TLS {
		return nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs}
	if len(o.Addrs) == 1 && o.MasterName == "" {
		if host, _, err := net.SplitHostPort(o.Addrs[0]); err == nil {
			c.ServerName = host
		}
	}
	return c
}

func withDefaults(o Options) Options {
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Ping reports whether Redis answers within the store's timeout. When a
// connection could not be made, the error wraps the dial's (with TLS, a
// *tls.CertificateVerificationError when the server's certificate did not
// verify).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		var de dialError
		if errors.As(err, &de) {
			// The dial's own error, open to errors.As: a refused
			// connection, a *tls.CertificateVerificationError.
			err = de.err
		}
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// Close stops the subscription and closes the connections. It is safe to
// call more than once; calls after Close fail.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		_ = s.ps.Close()
		s.done.Wait()
		s.bg.wait()
		err = s.rdb.Close()
	})
	return err
}

// callCtx bounds one store call by the store's timeout.
func (s *Store) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// observeHook reports every processed command to fn.
type observeHook func(op string, d time.Duration, err error)

func (h observeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h observeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h(cmd.Name(), time.Since(start), realErr(err))
		return err
	}
}

func (h observeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		d := time.Since(start)
		for _, cmd := range cmds {
			cerr := cmd.Err()
			if cerr == nil && err != nil && !errors.Is(err, redis.Nil) {
				cerr = err
			}
			h(cmd.Name(), d, realErr(cerr))
		}
		return err
	}
}

// reloadHook asks a cluster client to reload its slot map after a
// connection error: go-redis otherwise keeps sending a dead master's slots
// to it until a MOVED or its periodic reload, seconds after a failover.
// The reload is asynchronous and coalesced by go-redis.
type reloadHook struct{ cc *redis.ClusterClient }

func (h reloadHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(err)
		return err
	}
}

func (h reloadHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(err)
		return err
	}
}

func (h reloadHook) check(err error) {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) || isDialError(err) {
		h.cc.ReloadState(context.Background())
	}
}

// realErr hides redis.Nil, which is an answer ("no such key"), not a
// failure.
func realErr(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

var (
	_ auth.Store          = (*Store)(nil)
	_ auth.SessionCounter = (*Store)(nil)
)
