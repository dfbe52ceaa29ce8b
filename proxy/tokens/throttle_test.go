package tokens

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
)

// countingUsers counts password checks; each is held until release is
// closed (nil: not held).
type countingUsers struct {
	inner   passwords.Checker
	release chan struct{}
	calls   atomic.Int32
}

func (c *countingUsers) CheckPassword(user, pw string) (users.User, bool) {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	return c.inner.CheckPassword(user, pw)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// TestPasswordGrantConcurrentGuesses is issue 9, item 2 on the password
// grant (which shares the login limiter): 40 concurrent wrong passwords
// for one user from one client get at most the limit's worth (3/h here)
// of password checks.
func TestPasswordGrantConcurrentGuesses(t *testing.T) {
	who := &countingUsers{release: make(chan struct{})}
	e := newEnv(t, func(o *Options) {
		who.inner = o.Users
		o.Users = who
		lim, err := passwords.NewLimiter(passwords.LimiterOptions{Rate: passwords.Rate{N: 3, Per: time.Hour}, ClientRate: passwords.Rate{N: 100, Per: time.Hour},
			Counts: memstore.NewAttempts(nil), MaxChecks: 40})
		if err != nil {
			t.Fatal(err)
		}
		o.Limiter = lim
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.password(t, "alice", "wrong")
			mu.Lock()
			got[r.status]++
			mu.Unlock()
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for who.calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(who.release)
	wg.Wait()
	n := who.calls.Load()
	t.Logf("40 concurrent password grants, limit 3/h: %d password checks, statuses %v", n, got)
	if n > 3 {
		t.Errorf("40 concurrent guesses at 3/h got %d password checks, want at most 3", n)
	}
	if got[http.StatusBadRequest] != int(n) || got[http.StatusTooManyRequests] != 40-int(n) {
		t.Errorf("statuses %v, want %d × 400 invalid_grant and the rest 429", got, n)
	}
}

// TestPasswordGrantLongPassword: a password over 72 bytes is an ordinary
// failure (400 invalid_grant), never a login, a bcrypt error or a 500.
func TestPasswordGrantLongPassword(t *testing.T) {
	pw := strings.Repeat("L", users.MaxPasswordBytes)
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte("long:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, err := users.Load("", file)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.Users = dir })
	for _, extra := range []string{"x", strings.Repeat("L", 60<<10)} {
		e.password(t, "long", pw+extra).oauthError(t, http.StatusBadRequest, "invalid_grant")
	}
	e.password(t, "long", pw).grant(t)
}

// TestPasswordGrantLogsBounded is issue 9, item 10: 300 rate-limited
// password grants with a 59 KiB username grew the log by 18 MB. Now the
// username is clipped to 256 bytes and the refusals from one client make
// one line a minute, with the count of those held back.
func TestPasswordGrantLogsBounded(t *testing.T) {
	var logs lockedBuffer
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		o.Now = clock
	})
	huge := strings.Repeat("U", 59<<10)
	for range 300 {
		e.password(t, huge, "wrong")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	e.password(t, huge, "wrong")
	out := logs.String()
	t.Logf("301 refused password grants with a 59 KiB username: %d bytes of log", len(out))
	if len(out) > 10<<10 {
		t.Errorf("301 refused grants wrote %d bytes of log, want < 10 KiB", len(out))
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if len(line) > 1<<10 {
			t.Errorf("log line of %d bytes, want ≤ 1 KiB: %.200s…", len(line), line)
		}
	}
	// 3 failures (3/h), then 297 rate-limited: one line and 296 held back,
	// reported on the next line a minute later.
	if !strings.Contains(out, `"repeated":296`) {
		t.Errorf("no line reports the 296 refusals held back:\n%s", out)
	}
	if strings.Contains(out, strings.Repeat("U", 300)) {
		t.Error("the username is not clipped")
	}
}
