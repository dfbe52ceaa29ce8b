package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// Refresh-token families use two kinds of keys, each script touching one
// key so that Redis Cluster can run it:
//
//	refresh:<hex sha256>    string: the family id; TTL until the token expires
//	refresh-family:<id>     hash: "created"; "t:<hex>" = record JSON of each
//	                        live (unspent) token; "j:<jti>" = exp (UNIX ms) of
//	                        each access token issued; "revoked" once revoked.
//	                        TTL: the latest expiry of its tokens.
//
// Spending a token deletes its t: field but keeps the pointer, so a second
// use finds the family and no live token: reuse.

// createRefreshScript: KEYS[1] family; ARGV token key, record JSON, jti,
// jti exp ms, ttl ms, now ms. Returns 0 when the family is revoked.
var createRefreshScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'revoked') == 1 then return 0 end
local now = tonumber(ARGV[6])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'j:' and tonumber(all[i+1]) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  end
end
redis.call('HSETNX', KEYS[1], 'created', ARGV[6])
redis.call('HSET', KEYS[1], 't:' .. ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'j:' .. ARGV[3], ARGV[4]) end
local ttl = tonumber(ARGV[5])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`)

// spendRefreshScript: KEYS[1] family; ARGV[1] token key. Returns
// {"gone"}, {"revoked"}, {"spent"}, {"spent", a live record JSON of the
// family} or {"ok", record JSON}.
var spendRefreshScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
if redis.call('HEXISTS', KEYS[1], 'revoked') == 1 then return {'revoked'} end
local f = 't:' .. ARGV[1]
local rec = redis.call('HGET', KEYS[1], f)
if not rec then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 't:' then return {'spent', all[i+1]} end
  end
  return {'spent'}
end
redis.call('HDEL', KEYS[1], f)
return {'ok', rec}
`)

// revokeFamilyScript: KEYS[1] family; ARGV[1] now ms. Returns
// {first (0|1), jti, exp ms, jti, exp ms, ...}.
var revokeFamilyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local first = redis.call('HSETNX', KEYS[1], 'revoked', ARGV[1])
local out = {first}
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local k = string.sub(all[i], 1, 2)
  if k == 't:' then
    redis.call('HDEL', KEYS[1], all[i])
  elseif k == 'j:' and tonumber(all[i+1]) > now then
    table.insert(out, string.sub(all[i], 3))
    table.insert(out, all[i+1])
  end
end
return out
`)

func (s *Store) refreshKey(key string) string {
	return strings.TrimSuffix(s.keys.jti, "revoked:jti:") + "refresh:" + key
}

func (s *Store) familyKey(fam string) string {
	return strings.TrimSuffix(s.keys.jti, "revoked:jti:") + "refresh-family:" + fam
}

// CreateRefresh adds rec to its family, then writes the token's pointer;
// auth.ErrRevoked when the family was revoked.
func (s *Store) CreateRefresh(ctx context.Context, rec auth.RefreshRecord, access auth.TokenRef) error {
	now := s.now()
	ttl := rec.Expires.Sub(now)
	if ttl < time.Millisecond {
		return fmt.Errorf("redisstore: create refresh token: expiry %v is not in the future", rec.Expires)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("redisstore: create refresh token: %w", err)
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	ok, err := createRefreshScript.Run(ctx, s.rdb, []string{s.familyKey(rec.Family)},
		rec.Key, b, access.JTI, access.Expires.UnixMilli(), ttl.Milliseconds(), now.UnixMilli()).Int()
	if err != nil {
		return fmt.Errorf("redisstore: create refresh token: %w", err)
	}
	if ok == 0 {
		return auth.ErrRevoked
	}
	if err := s.rdb.Set(ctx, s.refreshKey(rec.Key), rec.Family, ttl).Err(); err != nil {
		return fmt.Errorf("redisstore: create refresh token: %w", err)
	}
	return nil
}

// SpendRefresh reads the token's family, then consumes the token in the
// family atomically; see auth.RefreshStore.
func (s *Store) SpendRefresh(ctx context.Context, key string) (auth.RefreshRecord, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	fam, err := s.rdb.Get(ctx, s.refreshKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return auth.RefreshRecord{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.RefreshRecord{}, fmt.Errorf("redisstore: spend refresh token: %w", err)
	}
	res, err := spendRefreshScript.Run(ctx, s.rdb, []string{s.familyKey(fam)}, key).StringSlice()
	if err != nil {
		return auth.RefreshRecord{}, fmt.Errorf("redisstore: spend refresh token: %w", err)
	}
	switch {
	case len(res) == 2 && res[0] == "ok":
		var rec auth.RefreshRecord
		if err := json.Unmarshal([]byte(res[1]), &rec); err != nil {
			return auth.RefreshRecord{}, fmt.Errorf("redisstore: spend refresh token: malformed record: %w", err)
		}
		rec.Key = key
		if !s.now().Before(rec.Expires) {
			return auth.RefreshRecord{}, auth.ErrNotFound
		}
		return rec, nil
	case len(res) == 2 && res[0] == "spent":
		var live auth.RefreshRecord
		_ = json.Unmarshal([]byte(res[1]), &live) // the reuse is what matters; details are best effort
		return auth.RefreshRecord{Family: fam, User: live.User, IP: live.IP}, auth.ErrRevoked
	case len(res) == 1 && (res[0] == "spent" || res[0] == "revoked"):
		return auth.RefreshRecord{Family: fam}, auth.ErrRevoked
	}
	return auth.RefreshRecord{}, auth.ErrNotFound
}

// RevokeFamily marks the family revoked and drops its live tokens in one
// script; see auth.RefreshStore.
func (s *Store) RevokeFamily(ctx context.Context, fam string) ([]auth.TokenRef, bool, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	res, err := revokeFamilyScript.Run(ctx, s.rdb, []string{s.familyKey(fam)}, s.now().UnixMilli()).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("redisstore: revoke refresh family: %w", err)
	}
	first := len(res) > 0 && res[0] == int64(1)
	var out []auth.TokenRef
	for i := 1; i+1 < len(res); i += 2 {
		jti, _ := res[i].(string)
		ms, err := strconv.ParseInt(fmt.Sprint(res[i+1]), 10, 64)
		if err != nil || jti == "" {
			return nil, first, fmt.Errorf("redisstore: revoke refresh family: malformed access entry")
		}
		out = append(out, auth.TokenRef{JTI: jti, Expires: time.UnixMilli(ms)})
	}
	return out, first, nil
}
