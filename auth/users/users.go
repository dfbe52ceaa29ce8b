package users

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"
)

// HashCost is the bcrypt cost of hashes made by HashPassword.
const HashCost = 12

// MaxPasswordBytes is the longest password bcrypt reads; HashPassword
// refuses longer ones and CheckPassword fails them.
const MaxPasswordBytes = 72

// User is a person who may log in. Groups may be nil.
type User struct {
	Username string
	Email    string
	Groups   []string
}

type entry struct {
	user User
	hash []byte
	fp   string // Fingerprint(hash), see lookup.go
}

// Directory is an immutable set of users loaded from the users file and the
// htpasswd file. It is safe for concurrent use. A nil or zero Directory has
// no users and refuses every password.
type Directory struct {
	users map[string]entry
	dummy []byte // bcrypt hash compared against for unknown users
}

// fileUser is one entry of the users file.
type fileUser struct {
	Username     string   `json:"username"`
	PasswordHash string   `json:"password_hash"`
	Email        string   `json:"email"`
	Groups       []string `json:"groups"`
}

// Load reads the users file (a YAML list of {username, password_hash,
// email, groups}, unknown fields refused) and the htpasswd file (bcrypt
// lines only). Either name may be empty, meaning no such file. A username
// that appears twice, in one file or across both, is an error.
func Load(usersFile, htpasswdFile string) (*Directory, error) {
	d := &Directory{users: map[string]entry{}}
	if usersFile != "" {
		data, err := os.ReadFile(usersFile)
		if err != nil {
			return nil, fmt.Errorf("read users file: %w", err)
		}
		if err := d.addYAML(usersFile, data); err != nil {
			return nil, err
		}
	}
	if htpasswdFile != "" {
		data, err := os.ReadFile(htpasswdFile)
		if err != nil {
			return nil, fmt.Errorf("read htpasswd file: %w", err)
		}
		if err := d.addHtpasswd(htpasswdFile, data); err != nil {
			return nil, err
		}
	}
	dummy, err := dummyHash(d.commonCost())
	if err != nil {
		return nil, err
	}
	d.dummy = dummy
	return d, nil
}

func (d *Directory) addYAML(name string, data []byte) error {
	var list []fileUser
	if err := yaml.UnmarshalStrict(data, &list); err != nil {
		return fmt.Errorf("users file %s: %w", name, err)
	}
	for i, fu := range list {
		if fu.Username == "" {
			return fmt.Errorf("users file %s: entry %d: username is empty", name, i)
		}
		hash, err := checkHash(fu.PasswordHash)
		if err != nil {
			return fmt.Errorf("users file %s: user %q: %w", name, fu.Username, err)
		}
		u := User{Username: fu.Username, Email: fu.Email, Groups: fu.Groups}
		if err := d.add(u, hash); err != nil {
			return fmt.Errorf("users file %s: %w", name, err)
		}
	}
	return nil
}

func (d *Directory) addHtpasswd(name string, data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok || user == "" {
			return fmt.Errorf("htpasswd file %s line %d: want user:bcrypt-hash", name, line)
		}
		h, err := checkHash(hash)
		if err != nil {
			return fmt.Errorf("htpasswd file %s line %d: user %q: %w", name, line, user, err)
		}
		if err := d.add(User{Username: user}, h); err != nil {
			return fmt.Errorf("htpasswd file %s line %d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read htpasswd file %s: %w", name, err)
	}
	return nil
}

func (d *Directory) add(u User, hash []byte) error {
	if _, dup := d.users[u.Username]; dup {
		return fmt.Errorf("duplicate username %q", u.Username)
	}
	d.users[u.Username] = entry{user: u, hash: hash, fp: Fingerprint(hash)}
	return nil
}

// checkHash accepts bcrypt hashes ($2a$, $2b$, $2y$) and refuses every other
// scheme ($apr1$ MD5, {SHA}, crypt, plain text) without echoing the value.
func checkHash(h string) ([]byte, error) {
	if len(h) < 4 || h[0] != '$' || h[1] != '2' || !strings.ContainsRune("aby", rune(h[2])) || h[3] != '$' {
		return nil, errors.New("password hash is not bcrypt ($2a$, $2b$ or $2y$); make one with gatehouse hash-password")
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return nil, fmt.Errorf("malformed bcrypt hash: %w", err)
	}
	return []byte(h), nil
}

// costs counts the users of each bcrypt cost.
func (d *Directory) costs() map[int]int {
	n := map[int]int{}
	for _, e := range d.users {
		if c, err := bcrypt.Cost(e.hash); err == nil {
			n[c]++
		}
	}
	return n
}

// commonCost is the cost an unknown user is checked at: the users' cost,
// or with mixed costs the most common one (the higher on a tie), so that
// an unknown user costs the same time as most known ones. Without users it
// is bcrypt.MinCost.
func (d *Directory) commonCost() int {
	best, most := bcrypt.MinCost, 0
	for c, n := range d.costs() {
		if n > most || n == most && c > best {
			best, most = c, n
		}
	}
	return best
}

// CostWarning describes mixed bcrypt costs among the users ("" when they
// all share one): the time of a failed login then tells users of a rarer
// cost from unknown users. `gatehouse check` prints it as a warning.
func (d *Directory) CostWarning() string {
	n := d.costs()
	if len(n) < 2 {
		return ""
	}
	cs := slices.Sorted(maps.Keys(n))
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("cost %d: %d", c, n[c])
	}
	return fmt.Sprintf("password hashes mix bcrypt costs (%s users); unknown users are checked at cost %d, "+
		"so a failed login's time can tell the others apart; rehash them with gatehouse hash-password (cost %d)",
		strings.Join(parts, ", "), d.commonCost(), HashCost)
}

var dummies sync.Map // cost → []byte

// dummyHash returns a bcrypt hash of a random-looking constant at cost,
// computed once per cost.
func dummyHash(cost int) ([]byte, error) {
	if h, ok := dummies.Load(cost); ok {
		return h.([]byte), nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte("gatehouse-dummy-password"), cost)
	if err != nil {
		return nil, fmt.Errorf("make dummy hash: %w", err)
	}
	dummies.Store(cost, h)
	return h, nil
}

// CheckPassword checks a username and password. An unknown username is
// compared against a dummy hash of the users' common cost, so both
// failures take the same time. A password over MaxPasswordBytes fails
// unchecked (bcrypt would ignore its end). The returned User shares its
// Groups slice with the Directory: do not modify it.
func (d *Directory) CheckPassword(username, password string) (User, bool) {
	if d == nil || len(password) > MaxPasswordBytes {
		return User{}, false
	}
	e, ok := d.users[username]
	hash := e.hash
	if !ok {
		hash = d.dummy
	}
	if hash == nil {
		return User{}, false
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if !ok || err != nil {
		return User{}, false
	}
	return e.user, true
}

// Len returns the number of users.
func (d *Directory) Len() int {
	if d == nil {
		return 0
	}
	return len(d.users)
}

// HashPassword returns a bcrypt hash of password at HashCost, for the users
// file or an htpasswd line. Passwords longer than 72 bytes are refused.
func HashPassword(password []byte) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("hash password: %d bytes; bcrypt uses at most %d, use a shorter password", len(password), MaxPasswordBytes)
	}
	h, err := bcrypt.GenerateFromPassword(password, HashCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
