package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// FuzzRevokeBody checks that any body is either refused with a
// description or yields exactly one well-formed revocation, and that a
// member name is never matched in another letter case.
func FuzzRevokeBody(f *testing.F) {
	for _, seed := range []string{
		`{"jti": "a", "exp": 4102444800}`, `{"subject": "bob"}`, `{"jti": "", "exp": 1}`,
		`{"jti": "a", "subject": "b"}`, `{}`, `[]`, `null`, `{"exp": 1e400}`, `{"jti": "a\u0000", "exp": 4102444800} `,
		`{"subject": "x"}{}`, `{"subject": "x", "extra": 1}`, "\xff", `{"jti": null, "subject": "s"}`,
		`{"Subject": "x"}`, `{"subject": "a", "subject": "b"}`, `{"token": "a.b.c"}`, `{"token": "a.b.c", "exp": 1}`,
	} {
		f.Add(seed)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/admin/revoke", strings.NewReader(body))
		c := &call{w: httptest.NewRecorder(), r: r}
		req, problem := decodeRevoke(c, now)
		if problem != "" {
			return
		}
		for _, name := range []string{`"JTI"`, `"Jti"`, `"Subject"`, `"SUBJECT"`, `"Exp"`, `"EXP"`, `"Token"`} {
			if strings.Contains(body, name) {
				t.Fatalf("body %q accepted with member %s", body, name)
			}
		}
		given := 0
		for _, p := range []*string{req.JTI, req.Subject, req.Token} {
			if p != nil {
				given++
			}
		}
		switch {
		case given != 1:
			t.Fatalf("body %q accepted without exactly one of jti, subject and token", body)
		case req.Token != nil && (*req.Token == "" || req.Exp != nil):
			t.Fatalf("body %q accepted with a bad token", body)
		case req.JTI != nil && (*req.JTI == "" || req.Exp == nil || *req.Exp <= now.Unix() || *req.Exp > auth.MaxUnix):
			t.Fatalf("body %q accepted with a bad jti or exp", body)
		case req.Subject != nil && (*req.Subject == "" || req.Exp != nil):
			t.Fatalf("body %q accepted with a bad subject", body)
		}
	})
}
