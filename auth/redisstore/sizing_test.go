package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// TestSizing measures what Gatehouse's keys cost in Redis, for the
// README's sizing (issue 9 item 14). It runs only with GATEHOUSE_SIZING=1:
//
//	GATEHOUSE_SIZING=1 go test -run TestSizing -v ./auth/redisstore/
//
// Two methods: the used_memory delta of INFO memory over many keys, divided
// by their number (what a deployment pays, allocator overhead included),
// and MEMORY USAGE of one key (SAMPLES 0: every element counted).
func TestSizing(t *testing.T) {
	if os.Getenv("GATEHOUSE_SIZING") != "1" {
		t.Skip("set GATEHOUSE_SIZING=1 to measure")
	}
	r := authtest.StartRedis(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}, KeyPrefix: "gatehouse:", Timeout: 5 * time.Second})
	c := r.Client(t)
	ctx := context.Background()
	t.Logf("redis-server %s", infoField(t, c, "server", "redis_version"))
	const n = 20_000

	per := measure(t, c, n, func() {
		for range n {
			// A UUID jti, as most issuers mint.
			if err := s.RevokeJTI(ctx, uuid(), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	})
	jti := memUsage(t, c, "gatehouse:revoked:jti:*")
	t.Logf("revoked jti (UUID, with TTL): %.0f B/key by INFO delta over %d; MEMORY USAGE %d B", per, n, jti)

	const users = 200 // n/users sessions each, under the default cap of 100
	per = measure(t, c, n, func() {
		for i := range n {
			rec := typicalSession(fmt.Sprintf("user%03d@corp.example", i%users))
			if err := s.CreateSession(ctx, rec, 30*time.Minute, 0); err != nil {
				t.Fatal(err)
			}
		}
	})
	sess := memUsage(t, c, "gatehouse:session:*")
	idx := memUsage(t, c, "gatehouse:session-index:*")
	t.Logf("session record + its index entry + its session-expiries entry: %.0f B/session by INFO delta over %d (%d users × %d); MEMORY USAGE: record %d B, index of %d %d B (%.0f B/entry)",
		per, n, users, n/users, sess, n/users, idx, float64(idx)/float64(n/users))

	// The global count's entry alone (session-expiries, a skip list).
	global := memUsage(t, c, "gatehouse:session-expiries")
	before := usedMemory(t, c)
	c.Del(ctx, s.keys.sessionExpiries)
	freed := before - usedMemory(t, c)
	t.Logf("session-expiries entry alone: %.0f B/entry by INFO delta (freed %d B for %d entries); MEMORY USAGE %d B (%.0f B/entry)",
		float64(freed)/n, freed, n, global, float64(global)/n)

	// The index alone: drop every index key and see what is freed.
	before = usedMemory(t, c)
	for u := range users {
		c.Del(ctx, s.index(0, fmt.Sprintf("user%03d@corp.example", u)))
	}
	freed = before - usedMemory(t, c)
	t.Logf("index entries alone: %.0f B/entry by INFO delta (freed %d B for %d entries)", float64(freed)/n, freed, n)

	// Past 128 entries (a cap over 128) the index is a skip list.
	for range 1000 {
		if err := s.CreateSession(ctx, typicalSession("big@corp.example"), 30*time.Minute, 0); err != nil {
			t.Fatal(err)
		}
	}
	big := memUsage(t, c, "gatehouse:session-index:0:big@corp.example")
	t.Logf("index of 1000 entries (skip list): MEMORY USAGE %d B (%.0f B/entry)", big, float64(big)/1000)

	_ = s.RevokeSubject(ctx, "user000@corp.example", time.Now())
	_, _ = s.DeleteUserSessions(ctx, "user001@corp.example")
	t.Logf("revoked subject key: MEMORY USAGE %d B; session epoch key: %d B",
		memUsage(t, c, "gatehouse:revoked:sub:*"), memUsage(t, c, "gatehouse:session-epoch:*"))
}

// measure returns the used_memory growth caused by fill, per item.
func measure(t *testing.T, c *redis.Client, n int, fill func()) float64 {
	before := usedMemory(t, c)
	fill()
	return float64(usedMemory(t, c)-before) / float64(n)
}

func usedMemory(t *testing.T, c *redis.Client) int64 {
	v, err := strconv.ParseInt(infoField(t, c, "memory", "used_memory"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func infoField(t *testing.T, c *redis.Client, section, field string) string {
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	t.Fatalf("no %s in INFO %s", field, section)
	return ""
}

// memUsage is MEMORY USAGE (all samples) of the first key matching pattern.
func memUsage(t *testing.T, c *redis.Client, pattern string) int64 {
	var keys []string
	for cursor := uint64(0); len(keys) == 0; {
		var err error
		keys, cursor, err = c.Scan(context.Background(), cursor, pattern, 1000).Result()
		if err != nil || (cursor == 0 && len(keys) == 0) {
			t.Fatalf("no key matches %s: %v", pattern, err)
		}
	}
	v, err := c.MemoryUsage(context.Background(), keys[0], 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// typicalSession is a password login from a desktop browser: key the hex
// SHA-256 of a random ID, an e-mail user name, two groups, an IPv4 and a
// common User-Agent.
func typicalSession(user string) auth.SessionRecord {
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	sum := sha256.Sum256(id)
	now := time.Now()
	return auth.SessionRecord{
		Key: hex.EncodeToString(sum[:]), User: user, Email: user,
		Groups: []string{"staff", "engineering"}, Created: now, LastSeen: now, IP: "203.0.113.57",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	}
}
