package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"unsafe"
)

// idBytes is the size of a session ID: 256 bits.
const idBytes = 32

// idLen is the length of an encoded session ID (unpadded base64url).
const idLen = 43

var idEncoding = base64.RawURLEncoding.Strict()

// newID returns a fresh session ID from crypto/rand and its store key.
func newID() (id, key string) {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return idEncoding.EncodeToString(b[:]), keyOf(b[:])
}

// keyOf is the store key of a decoded session ID: hex SHA-256.
func keyOf(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// parseID validates an encoded session ID strictly (exactly 43 base64url
// characters decoding to 32 bytes in canonical form) and returns its store
// key. The ID is decoded in place: its bytes are only read.
func parseID(v string) (key string, ok bool) {
	if len(v) != idLen {
		return "", false
	}
	var raw [idBytes + 2]byte
	n, err := idEncoding.Decode(raw[:], unsafe.Slice(unsafe.StringData(v), len(v)))
	if err != nil || n != idBytes {
		return "", false
	}
	return keyOf(raw[:n]), true
}

// cookieValue returns the raw value of the first cookie named name in the
// request's Cookie headers and how many there are, without Go's lenient
// parsing: a value with bytes net/http would silently drop is still seen
// (and then refused).
func cookieValue(h http.Header, name string) (first string, count int) {
	for _, line := range h.Values("Cookie") {
		for part := range strings.SplitSeq(line, ";") {
			n, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.TrimSpace(n) == name {
				if count == 0 {
					first = v
				}
				count++
			}
		}
	}
	return first, count
}

// HandleFor returns the opaque handle the admin API shows for the session
// stored under key: the base64url form of the stored SHA-256, never the
// cookie value (which cannot be recovered from it). It returns "" for a
// key that is not a session key.
func HandleFor(key string) string {
	raw, err := hex.DecodeString(key)
	if err != nil || len(raw) != sha256.Size {
		return ""
	}
	return idEncoding.EncodeToString(raw)
}

// KeyForHandle is the inverse of HandleFor: the store key of the session
// an admin handle names, and false for a malformed handle.
func KeyForHandle(handle string) (string, bool) {
	if len(handle) != idLen {
		return "", false
	}
	raw, err := idEncoding.DecodeString(handle)
	if err != nil || len(raw) != sha256.Size {
		return "", false
	}
	return hex.EncodeToString(raw), true
}
