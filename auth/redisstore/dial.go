package redisstore

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Dialling, tuned for prompt recovery after an outage.
//
// go-redis's pool has a circuit breaker: after PoolSize failed dials it
// fails every call at once, without dialling, until a background probe
// (one a second) connects. After a Redis restart, or a freeze that filled
// its listen backlog, that kept Gatehouse answering 503 for up to a second
// after Redis was back. Gatehouse bounds each call with its own timeout and
// lets store.on_error decide, so it has no use for the breaker: dialHook
// hands the pool a connection that fails on first use instead of a dial
// error. The call fails just the same, but the breaker never opens, and the
// next call dials afresh.
//
// A dial whose SYN was dropped (a full backlog) would only be retried by
// the kernel a second later, and go-redis lets a dial run on (up to the
// dial timeout) after the call that wanted it gave up, holding one of the
// pool's turns: a few hung dials starve every call after Redis is back.
// dialHook starts another dial every redialAfter while none has answered,
// and the first to connect wins. A dial that fails outright (connection
// refused) is not repeated: the call fails at once.
const redialAfter = 50 * time.Millisecond

// dialHook turns a failed dial into a failedConn, and redials while a dial
// hangs.
type dialHook struct{}

func (dialHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := staggeredDial(ctx, func(ctx context.Context) (net.Conn, error) {
			return next(ctx, network, addr)
		})
		if err != nil {
			return failedConn{dialError{err}}, nil
		}
		return c, nil
	}
}

// staggeredDial calls dial, and again every redialAfter while no call has
// returned. It returns the first connection, or the last error once every
// dial failed, or ctx's error when ctx ends first. Connections that lose
// the race are closed. While Redis is unreachable, this is at most one SYN
// per redialAfter per dial in progress (go-redis allows PoolSize of them).
func staggeredDial(ctx context.Context, dial func(context.Context) (net.Conn, error)) (net.Conn, error) {
	results := make(chan dialResult, 1)
	dctx, cancel := context.WithCancel(ctx)
	pending := 0
	start := func() {
		pending++
		go func() { results <- newDialResult(dial(dctx)) }()
	}
	// abandon cancels the dials still running and closes what they return.
	abandon := func() {
		cancel()
		if pending > 0 {
			go func(n int) {
				for range n {
					if r := <-results; r.c != nil {
						_ = r.c.Close()
					}
				}
			}(pending)
		}
	}
	start()
	t := time.NewTimer(redialAfter)
	defer t.Stop()
	for {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				abandon()
				return r.c, nil
			}
			if pending == 0 {
				cancel()
				return nil, r.err
			}
		case <-t.C:
			start()
			t.Reset(redialAfter)
		case <-ctx.Done():
			abandon()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ctx.Err()}
		}
	}
}

// dialResult is one dial's outcome; c is nil when err is not.
type dialResult struct {
	c   net.Conn
	err error
}

// newDialResult drops the connection of a failed dial: a failed TLS dial
// returns a nil *tls.Conn, a non-nil net.Conn whose Close panics (it took
// the process down when a dial that lost the race failed afterwards).
func newDialResult(c net.Conn, err error) dialResult {
	if err != nil {
		return dialResult{nil, err}
	}
	return dialResult{c, nil}
}

func (dialHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (dialHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// installDialHook adds dialHook to every client that dials: the client
// itself (standalone, Sentinel failover), or each node of a cluster.
func installDialHook(rdb redis.UniversalClient) {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		cc.OnNewNode(func(node *redis.Client) { node.AddHook(dialHook{}) })
		return
	}
	rdb.AddHook(dialHook{})
}

// failedConn is a connection whose dial failed: every read and write
// returns a dialError, and go-redis drops the connection. It implements
// syscall.Conn so that the pool's health check discards it if it is ever
// pooled idle.
type failedConn struct{ err dialError }

func (c failedConn) Read([]byte) (int, error)         { return 0, c.err }
func (c failedConn) Write([]byte) (int, error)        { return 0, c.err }
func (c failedConn) Close() error                     { return nil }
func (c failedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c failedConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c failedConn) SetDeadline(time.Time) error      { return nil }
func (c failedConn) SetReadDeadline(time.Time) error  { return nil }
func (c failedConn) SetWriteDeadline(time.Time) error { return nil }
func (c failedConn) SyscallConn() (syscall.RawConn, error) {
	return nil, c.err
}

// dialError is a failed dial as a failedConn reports it. go-redis does not
// retry it: neither the connection handshake on the failed connection
// (which would only fail again after a back-off) nor the command (the next
// call dials afresh anyway). errors.Is sees through it (ECONNREFUSED,
// context.DeadlineExceeded), errors.As does not: go-redis would retry a
// *net.OpError.
type dialError struct{ err error }

func (e dialError) Error() string        { return e.err.Error() }
func (e dialError) Is(target error) bool { return errors.Is(e.err, target) }
func isDialError(err error) bool         { return errors.As(err, new(dialError)) }
