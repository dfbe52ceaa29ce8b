package httpx

import (
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Defaults of a LogLimiter.
const (
	// LogWindow is the longest a LogLimiter keeps lines of one kind from
	// one client quiet.
	LogWindow = time.Minute
	// LogLimiterMax bounds the (kind, client) pairs a LogLimiter follows;
	// beyond it, new clients share one entry per kind.
	LogLimiterMax = 10_000
)

// LogLimiter lets through at most one log line per LogWindow for each
// (kind, client IP) pair, such as repeated refusals ("login rate
// limited") from one client, and counts the lines it holds back. The count
// is reported on the pair's next line (see Allow), or, when none comes,
// by a summary line ("repeated" = count) written a window after the pair's
// last line. Memory is bounded by LogLimiterMax pairs: when full, clients
// not yet followed are counted together under the zero netip.Addr (logged
// as client_ip "invalid IP"). Safe for concurrent use; a nil *LogLimiter
// lets every line through.
type LogLimiter struct {
	log    *slog.Logger
	now    func() time.Time
	window time.Duration
	max    int

	mu      sync.Mutex
	pairs   map[logPair]*logCount
	pending bool // a Flush is scheduled
}

type logPair struct {
	kind string
	ip   netip.Addr
}

type logCount struct {
	since time.Time // when the pair's last line was written
	held  int       // lines held back since
}

// NewLogLimiter returns a LogLimiter whose summary lines go to log (nil:
// discarded) at level Warn, on the clock now (nil: time.Now).
func NewLogLimiter(log *slog.Logger, now func() time.Time) *LogLimiter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &LogLimiter{log: log, now: now, window: LogWindow, max: LogLimiterMax, pairs: make(map[logPair]*logCount)}
}

// Warn writes log.Warn(msg, args...) when Allow(msg, ip) lets it through,
// with "repeated" = the lines held back when there were any: the refusal
// lines of the sign-in form and the token endpoint.
func (l *LogLimiter) Warn(log *slog.Logger, msg string, ip netip.Addr, args ...any) {
	ok, held := l.Allow(msg, ip)
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "repeated", held)
	}
	log.Warn(msg, args...)
}

// Allow reports whether a line of kind about the client ip may be written
// now. When it may, held is the number of lines of the pair held back
// since its previous line: write it on the line (as "repeated") when
// positive.
func (l *LogLimiter) Allow(kind string, ip netip.Addr) (ok bool, held int) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	p := logPair{kind, ip}
	c, found := l.pairs[p]
	if !found && len(l.pairs) >= l.max {
		l.flushLocked(now)
		if len(l.pairs) >= l.max {
			p.ip = netip.Addr{}
			c, found = l.pairs[p]
		}
	}
	if !found || now.Sub(c.since) >= l.window {
		if found {
			held = c.held
		}
		l.pairs[p] = &logCount{since: now}
		return true, held
	}
	c.held++
	if !l.pending {
		l.pending = true
		time.AfterFunc(l.window, l.Flush)
	}
	return false, 0
}

// Flush writes a summary line for every pair whose window has ended with
// lines held back, and forgets the pairs whose window has ended. It runs by
// itself a window after lines were first held back; tests call it.
func (l *LogLimiter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = false
	l.flushLocked(l.now())
	for _, c := range l.pairs {
		if c.held > 0 {
			l.pending = true
			time.AfterFunc(l.window, l.Flush)
			break
		}
	}
}

func (l *LogLimiter) flushLocked(now time.Time) {
	for p, c := range l.pairs {
		if now.Sub(c.since) < l.window {
			continue
		}
		if c.held > 0 {
			l.log.Warn(p.kind+" (repeated lines held back)", "client_ip", p.ip.String(),
				"repeated", c.held, "window", l.window.String())
		}
		delete(l.pairs, p)
	}
}
