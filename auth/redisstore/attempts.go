package redisstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// Login-attempt counters (auth.LoginAttempts), shared by every replica on
// this Redis. Two string keys per client IP, in one hash slot (the IP is
// the hash tag) so that one script updates both atomically on a cluster:
//
//	login:{<ip>}:ip               the IP's bucket (login.client_rate)
//	login:{<ip>}:user:<hash>      the (username, IP) bucket (login.rate);
//	                              <hash> is hex of the first 16 bytes of
//	                              SHA-256(username)
//
// Each holds the time, in microseconds of the Redis server's clock (TIME),
// at which the bucket is full again (GCRA, equivalent to a token bucket of
// N tokens refilled at N per period), and expires then: a full bucket is
// no key. Using the server's clock keeps replicas with skewed clocks in
// agreement.

// reserveAttemptScript: KEYS user bucket, IP bucket; ARGV interval µs and
// period µs of each. Returns 0 when both took one attempt, else the wait
// in µs until both hold one (and neither was touched).
var reserveAttemptScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait, next = 0, {}
for i = 1, 2 do
  local full = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if full < now then full = now end
  local n = full + tonumber(ARGV[2*i-1])
  local over = n - now - tonumber(ARGV[2*i])
  if over > wait then wait = over end
  next[i] = n
end
if wait > 0 then return math.ceil(wait) end
for i = 1, 2 do
  redis.call('SET', KEYS[i], string.format('%.0f', next[i]), 'PX', math.ceil((next[i] - now) / 1000))
end
return 0
`)

// refundAttemptScript: KEYS user bucket, IP bucket; ARGV[1] "clear" to
// fill the user bucket (else it gets one attempt back), ARGV[2], ARGV[3]
// the intervals in µs. The IP bucket gets one attempt back.
var refundAttemptScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, 2 do
  if i == 1 and ARGV[1] == 'clear' then
    redis.call('DEL', KEYS[1])
  else
    local full = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
    full = full - tonumber(ARGV[i+1])
    if full <= now then
      redis.call('DEL', KEYS[i])
    else
      redis.call('SET', KEYS[i], string.format('%.0f', full), 'PX', math.ceil((full - now) / 1000))
    end
  end
end
return 1
`)

// attemptKeys returns a's two keys. The prefix is the one every other key
// of this store has (see newKeys), found from the channel's name so that
// this file leaves the key table alone.
func (s *Store) attemptKeys(a auth.Attempt) []string {
	base := strings.TrimSuffix(s.keys.channel, "revocations") + "login:{" + a.IP.String() + "}:"
	return []string{base + "user:" + a.UserHash(), base + "ip"}
}

func micros(d time.Duration) int64 { return max(d.Microseconds(), 1) }

// ReserveAttempt takes one attempt from both buckets of a, or from neither
// (one script, so concurrent attempts on every replica are counted
// exactly).
func (s *Store) ReserveAttempt(ctx context.Context, a auth.Attempt) (time.Duration, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	wait, err := reserveAttemptScript.Run(ctx, s.rdb, s.attemptKeys(a),
		micros(a.PerUser.Interval()), micros(a.PerUser.Per),
		micros(a.PerIP.Interval()), micros(a.PerIP.Per)).Int64()
	if err != nil {
		return 0, fmt.Errorf("redisstore: reserve login attempt: %w", err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}

// RefundAttempt gives one attempt back to both buckets of a.
func (s *Store) RefundAttempt(ctx context.Context, a auth.Attempt) error {
	return s.refundAttempt(ctx, a, "refund")
}

// ClearAttempts gives one attempt back to a's IP bucket and fills its
// (user, IP) bucket.
func (s *Store) ClearAttempts(ctx context.Context, a auth.Attempt) error {
	return s.refundAttempt(ctx, a, "clear")
}

func (s *Store) refundAttempt(ctx context.Context, a auth.Attempt, mode string) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := refundAttemptScript.Run(ctx, s.rdb, s.attemptKeys(a), mode,
		micros(a.PerUser.Interval()), micros(a.PerIP.Interval())).Err()
	if err != nil {
		return fmt.Errorf("redisstore: %s login attempt: %w", mode, err)
	}
	return nil
}

var _ auth.LoginAttempts = (*Store)(nil)
