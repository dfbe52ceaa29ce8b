package jwtauth

// Test-only views of the token cache (the product never counts it).

// stats returns the number of entries and their estimated bytes.
func (c *tokenCache) stats() (n int, bytes int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		bytes += s.bytes
		s.mu.RUnlock()
	}
	return n, bytes
}

// len returns the number of entries.
func (c *tokenCache) len() int {
	n, _ := c.stats()
	return n
}
