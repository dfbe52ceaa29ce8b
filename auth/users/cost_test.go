package users

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func hashAt(t *testing.T, pw string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// TestUnknownUserCostsLikeKnownOnes: the dummy hash an unknown user is
// checked against has the users' most common cost, not the highest (issue
// 9, item 9: with one cost-6 admin among cost-4 users, every unknown user
// cost more than a known one, which told them apart).
func TestUnknownUserCostsLikeKnownOnes(t *testing.T) {
	dir := t.TempDir()
	hf := write(t, dir, "htpasswd", "a:"+hashAt(t, "a", 4)+"\nb:"+hashAt(t, "b", 4)+"\nc:"+hashAt(t, "c", 4)+
		"\nroot:"+hashAt(t, "r", 6)+"\n")
	d, err := Load("", hf)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost(d.dummy); err != nil || c != 4 {
		t.Errorf("dummy hash cost = %d, %v; want 4, the cost of 3 of the 4 users", c, err)
	}
	w := d.CostWarning()
	if !strings.Contains(w, "cost 4: 3") || !strings.Contains(w, "cost 6: 1") || !strings.Contains(w, "checked at cost 4") {
		t.Errorf("CostWarning() = %q, want the costs and their counts", w)
	}
	if strings.Contains(w, "$2") {
		t.Errorf("CostWarning() shows a hash: %q", w)
	}

	same := write(t, dir, "same", "a:"+hashAt(t, "a", 5)+"\nb:"+hashAt(t, "b", 5)+"\n")
	d, err = Load("", same)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost(d.dummy); c != 5 {
		t.Errorf("dummy hash cost = %d, want 5", c)
	}
	if w := d.CostWarning(); w != "" {
		t.Errorf("CostWarning() with one cost = %q, want empty", w)
	}
	tie := write(t, dir, "tie", "a:"+hashAt(t, "a", 4)+"\nb:"+hashAt(t, "b", 5)+"\n")
	if d, err = Load("", tie); err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost(d.dummy); c != 5 {
		t.Errorf("dummy hash cost on a tie = %d, want 5 (the higher)", c)
	}
}

// TestPasswordOver72Bytes: bcrypt reads 72 bytes, so a longer password
// whose first 72 bytes are right would pass; it fails instead, and
// HashPassword refuses to hash one.
func TestPasswordOver72Bytes(t *testing.T) {
	pw := strings.Repeat("p", MaxPasswordBytes)
	hf := write(t, t.TempDir(), "htpasswd", "long:"+hashAt(t, pw, 4)+"\n")
	d, err := Load("", hf)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.CheckPassword("long", pw); !ok {
		t.Error("the 72-byte password fails")
	}
	for _, extra := range []string{"x", "p", strings.Repeat("z", 1000)} {
		if _, ok := d.CheckPassword("long", pw+extra); ok {
			t.Errorf("a %d-byte password whose first 72 bytes are right passes", len(pw+extra))
		}
	}
	if _, err := HashPassword([]byte(pw + "x")); err == nil || !strings.Contains(err.Error(), "72") {
		t.Errorf("HashPassword(73 bytes) = %v, want an error naming the 72-byte limit", err)
	}
}
