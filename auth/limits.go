package auth

// MaxUnix is 9999-12-31T23:59:59Z in UNIX seconds, the last second RFC 3339
// can write. A token's exp or a revocation's expiry beyond it is refused:
// it is not UNIX seconds (most often milliseconds), and later dates would
// overflow time arithmetic.
const MaxUnix = 253402300799
