package redisstore

import "time"

// SubscriptionUp reports whether the subscription to the revocations
// channel is live: confirmed by Redis within the health window. While it is
// down, revocation and session answers come from Redis on every call.
func (s *Store) SubscriptionUp() bool {
	return time.Now().UnixNano() < s.cache.healthyUntil.Load()
}
