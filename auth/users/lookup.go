package users

import (
	"crypto/sha256"
	"encoding/base64"
	"sort"
)

// fingerprintContext separates credential fingerprints from every other
// SHA-256 Gatehouse computes.
const fingerprintContext = "gatehouse credential fingerprint v1\x00"

// Fingerprint returns a short, stable digest of a stored password hash:
// 16 base64url characters of a SHA-256 over it. Sessions and refresh
// families record it at sign-in, so that a later change of the user's
// password hash (in the users files) is recognised without ever storing
// the hash itself. It does not help guess the password: the bcrypt salt
// it would need is not in it.
func Fingerprint(passwordHash []byte) string {
	h := sha256.New()
	h.Write([]byte(fingerprintContext))
	h.Write(passwordHash)
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// Lookup returns the user with this name as the Directory currently has
// them, with the Fingerprint of their password hash; ok is false when there
// is no such user. It is a map read, cheap enough for every request. The
// returned User shares its Groups slice with the Directory: do not modify
// it. A nil Directory has no users.
func (d *Directory) Lookup(name string) (u User, fingerprint string, ok bool) {
	if d == nil {
		return User{}, "", false
	}
	e, ok := d.users[name]
	if !ok {
		return User{}, "", false
	}
	return e.user, e.fp, true
}

// Lookup looks the user up in the current Directory (see
// Directory.Lookup).
func (w *Watcher) Lookup(name string) (User, string, bool) {
	return w.dir.Load().Lookup(name)
}

// Ended returns, sorted, the names of the users of old who are gone from
// cur or whose password hash differs there: the users whose sessions and
// refresh families a change from old to cur must end. A nil Directory has
// no users.
func Ended(old, cur *Directory) []string {
	if old == nil {
		return nil
	}
	var out []string
	for name, e := range old.users {
		_, fp, ok := cur.Lookup(name)
		if !ok || fp != e.fp {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
