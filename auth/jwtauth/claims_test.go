package jwtauth

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// hsIssuer is an HS256 issuer with testHMACSecret and mapping m.
func hsIssuer(m ClaimMapping) IssuerConfig {
	return IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"HS256"},
		HMACSecret: testHMACSecret, Claims: m}
}

// signRaw signs header and payload JSON exactly as written (HS256).
func signRaw(t *testing.T, hdr, payload string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(hdr)) + "." + b64.EncodeToString([]byte(payload))
	signer, err := jws.NewSigner(jwa.HS256)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign([]byte(input), testHMACSecret)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// Issue 9 item 5: an identity assertion (typ gh-assertion+jwt) is never a
// Bearer token, whatever the issuer config; other explicit types are
// refused too. External tokens typed JWT, at+jwt or untyped still pass.
func TestBearerTokenTypes(t *testing.T) {
	testKeys(t)
	bearer := newTestVerifier(t, Options{Issuers: []IssuerConfig{hsIssuer(ClaimMapping{})}})
	assertions := newTestVerifier(t, Options{Issuers: []IssuerConfig{hsIssuer(ClaimMapping{})}, Type: TypeAssertion})
	tests := []struct {
		typ       any // nil: no typ member
		bearer    bool
		assertion bool
	}{
		{nil, true, false},
		{"JWT", true, false},
		{"jwt", true, false},
		{"at+jwt", true, false},
		{"application/at+JWT", true, false},
		{"gh-assertion+jwt", false, true},
		{"application/GH-Assertion+JWT", false, true},
		{"logout+jwt", false, false},
		{"secevent+jwt", false, false},
		{7, false, false},
	}
	for _, tt := range tests {
		hdr := map[string]any{"typ": tt.typ}
		if tt.typ == nil {
			hdr = nil
		}
		tok := signToken(t, "HS256", testHMACSecret, hdr, claimsAt(testNow))
		if tt.typ == nil {
			tok = signRaw(t, `{"alg":"HS256"}`, mustJSON(t, claimsAt(testNow)))
		}
		for _, c := range []struct {
			v    *Verifier
			want bool
			name string
		}{{bearer, tt.bearer, "bearer"}, {assertions, tt.assertion, "assertion"}} {
			_, err := c.v.Verify(context.Background(), tok)
			if c.want && err != nil {
				t.Errorf("%s verifier, typ %v: %v, want accepted", c.name, tt.typ, err)
			}
			if !c.want && err == nil {
				t.Errorf("%s verifier, typ %v: accepted, want refused", c.name, tt.typ)
			}
		}
	}
}

// Issue 9 item 5: a token Gatehouse signs is typed: at+jwt by default,
// gh-assertion+jwt when asked; an assertion does not pass a Bearer
// verifier whose issuer and audience match it exactly.
func TestSignerTypes(t *testing.T) {
	testKeys(t)
	s, err := NewSigner(privatePEM(t, ecKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{{Issuer: testIssuer, Audiences: []string{"gatehouse"},
		Keys: s.PublicKeys(), Algorithms: []string{s.Algorithm()}}}})
	access, _, _, err := s.Mint(Claims{Issuer: testIssuer, Audience: "gatehouse", Subject: "alice", TTL: time.Minute, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if typ := decodeTestHeader(t, access)["typ"]; typ != TypeAccess {
		t.Fatalf("access token typ %v, want %s", typ, TypeAccess)
	}
	if _, err := v.Verify(context.Background(), access); err != nil {
		t.Fatalf("access token: %v", err)
	}
	asrt, _, _, err := s.Mint(Claims{Issuer: testIssuer, Audience: "gatehouse", Subject: "alice", TTL: time.Minute, Now: testNow, Type: TypeAssertion})
	if err != nil {
		t.Fatal(err)
	}
	if typ := decodeTestHeader(t, asrt)["typ"]; typ != TypeAssertion {
		t.Fatalf("assertion typ %v, want %s", typ, TypeAssertion)
	}
	_, err = v.Verify(context.Background(), asrt)
	wantErr(t, err, auth.ErrInvalid, "token type not accepted")
}

// Issue 9 item 9: repeated member names in the header or the claims, at
// any depth, are refused; encoding/json would keep the last.
func TestRepeatedMemberNames(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{hsIssuer(ClaimMapping{})}})
	good := mustJSON(t, claimsAt(testNow))
	tests := []struct {
		name, hdr, payload, want string
	}{
		{"sub twice", `{"alg":"HS256"}`, strings.Replace(good, `"sub":"alice"`, `"sub":"alice","sub":"admin"`, 1), "repeated claim name"},
		{"escaped twin", `{"alg":"HS256"}`, strings.Replace(good, `"sub":"alice"`, `"sub":"alice","\u0073ub":"admin"`, 1), "repeated claim name"},
		{"nested", `{"alg":"HS256"}`, strings.Replace(good, `"sub":"alice"`, `"sub":"alice","org":{"id":1,"x":[{"r":1,"r":2}]}`, 1), "repeated claim name"},
		{"header alg twice", `{"alg":"none","alg":"HS256"}`, good, "repeated header name"},
		{"header kid twice", `{"alg":"HS256","kid":"a","kid":"b"}`, good, "repeated header name"},
	}
	for _, tt := range tests {
		_, err := v.Verify(context.Background(), signRaw(t, tt.hdr, tt.payload))
		if err == nil {
			t.Errorf("%s: accepted, want refused", tt.name)
			continue
		}
		wantErr(t, err, auth.ErrInvalid, tt.want)
	}
	// Same names in different objects are fine.
	ok := strings.Replace(good, `"sub":"alice"`, `"sub":"alice","a":{"sub":1,"b":{"sub":2}},"c":[{"sub":3},{"sub":4}]`, 1)
	if _, err := v.Verify(context.Background(), signRaw(t, `{"alg":"HS256"}`, ok)); err != nil {
		t.Errorf("same names in different objects: %v", err)
	}
}

// Issue 9 item 9: user, email and group values are forwarded exactly, so
// values that a transport would trim or that hold controls are refused.
func TestClaimValuesExact(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{hsIssuer(ClaimMapping{User: "preferred_username"})}})
	bad := []string{" admin", "admin ", "admin\t", "ad\x00min", "admin\u0085", "admin\u2028", "admin\u2029",
		"ad\u200bmin", "admin\u00a0", "ad\x7fmin", "ad\u009bmin", "\ufeffadmin", "admin\n", "ad\xffmin"}
	for _, claim := range []string{"sub", "preferred_username", "email", "groups"} {
		for _, val := range bad {
			c := claimsAt(testNow)
			c["preferred_username"] = "alice"
			c[claim] = val
			if claim == "groups" {
				c[claim] = []any{"staff", val}
			}
			_, err := v.Verify(context.Background(), signToken(t, "HS256", testHMACSecret, nil, c))
			if err == nil {
				t.Errorf("%s = %q: accepted, want refused", claim, val)
				continue
			}
			wantErr(t, err, auth.ErrInvalid, "")
		}
	}
	c := claimsAt(testNow)
	c["preferred_username"], c["email"], c["groups"] = "Zoë Ångström", "zoë@example.com", []any{"staff & friends", "日本"}
	id, err := v.Verify(context.Background(), signToken(t, "HS256", testHMACSecret, nil, c))
	if err != nil {
		t.Fatalf("printable values: %v", err)
	}
	if id.User != "Zoë Ångström" || id.Email != "zoë@example.com" || len(id.Groups) != 2 {
		t.Fatalf("got %+v", id)
	}
}

// Issue 9 item 7: an email beside email_verified: false is absent.
func TestEmailVerifiedFalse(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{hsIssuer(ClaimMapping{})}})
	nested := newTestVerifier(t, Options{Issuers: []IssuerConfig{hsIssuer(ClaimMapping{Email: "profile.mail"})}})
	tests := []struct {
		v        *Verifier
		extra    map[string]any
		wantMail string
	}{
		{v, map[string]any{"email": "ceo@corp.example", "email_verified": false}, ""},
		{v, map[string]any{"email": "ceo@corp.example", "email_verified": "false"}, ""},
		{v, map[string]any{"email": "ceo@corp.example", "email_verified": true}, "ceo@corp.example"},
		{v, map[string]any{"email": "ceo@corp.example"}, "ceo@corp.example"},
		{nested, map[string]any{"profile": map[string]any{"mail": "ceo@corp.example", "email_verified": false}}, ""},
		{nested, map[string]any{"profile": map[string]any{"mail": "ceo@corp.example"}}, "ceo@corp.example"},
	}
	for i, tt := range tests {
		c := claimsAt(testNow)
		for k, x := range tt.extra {
			c[k] = x
		}
		id, err := tt.v.Verify(context.Background(), signToken(t, "HS256", testHMACSecret, nil, c))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if id.Email != tt.wantMail {
			t.Errorf("case %d (%v): got email %q, want %q", i, tt.extra, id.Email, tt.wantMail)
		}
		path := "email"
		if tt.v == nested {
			path = "profile.mail"
		}
		if got, ok := id.Claim(path); (tt.wantMail == "") != !ok {
			t.Errorf("case %d: claim %s = %v, %v; want absent iff unverified", i, path, got, ok)
		}
	}
}

// Issue 9 item 9: jwt.max_lifetime refuses long-lived tokens.
func TestMaxLifetime(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{hsIssuer(ClaimMapping{})}, MaxLifetime: time.Hour, Leeway: 30 * time.Second})
	tests := []struct {
		name    string
		iat     time.Time // zero: no iat
		exp     time.Time
		refused bool
	}{
		{"within", testNow, testNow.Add(time.Hour), false},
		{"over", testNow, testNow.Add(time.Hour + time.Second), true},
		{"old iat, long life", testNow.Add(-50 * time.Minute), testNow.Add(20 * time.Minute), true},
		{"no iat, within", time.Time{}, testNow.Add(time.Hour), false},
		{"no iat, over", time.Time{}, testNow.Add(2 * time.Hour), true},
		{"ten years", testNow, testNow.Add(10 * 365 * 24 * time.Hour), true},
	}
	for _, tt := range tests {
		c := claimsAt(testNow)
		c["exp"] = tt.exp.Unix()
		if tt.iat.IsZero() {
			delete(c, "iat")
		} else {
			c["iat"] = tt.iat.Unix()
		}
		_, err := v.Verify(context.Background(), signToken(t, "HS256", testHMACSecret, nil, c))
		if !tt.refused && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if tt.refused {
			if err == nil {
				t.Errorf("%s: accepted, want refused", tt.name)
				continue
			}
			wantErr(t, err, auth.ErrInvalid, "token lifetime too long")
		}
	}
	if _, err := NewVerifier(Options{MaxLifetime: -time.Second}); err == nil {
		t.Error("negative MaxLifetime: got nil error")
	}
}

// Issue 9 item 6: with KeepClaims, the identity keeps only the claims the
// config reads, and every kept path answers as in the full set.
func TestKeepClaims(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{hsIssuer(ClaimMapping{User: "preferred_username", Groups: "realm_access.roles"})},
		KeepClaims: []string{"tenant", "org.id", "org", "a.b.c", "dotted.key"}})
	c := claimsAt(testNow)
	c["preferred_username"] = "alice"
	c["realm_access"] = map[string]any{"roles": []any{"staff"}, "other": "x"}
	c["tenant"] = "acme"
	c["org"] = map[string]any{"id": 7.0, "name": "Acme"}
	c["a"] = map[string]any{"b.c": "literal", "b": map[string]any{"c": "nested"}, "junk": "x"}
	c["dotted.key"] = "v"
	c["scope"] = "read write"
	c["pad"] = strings.Repeat("x", 8000)
	id, err := v.Verify(context.Background(), signToken(t, "HS256", testHMACSecret, nil, c))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"preferred_username": "alice",
		"realm_access":       map[string]any{"roles": []any{"staff"}},
		"tenant":             "acme",
		"org":                map[string]any{"id": 7.0, "name": "Acme"},
		"a":                  map[string]any{"b.c": "literal"},
		"dotted.key":         "v",
		"scope":              "read write",
	}
	if !reflect.DeepEqual(id.Claims, want) {
		t.Fatalf("got claims %v, want %v", id.Claims, want)
	}
	if x, _ := id.Claim("a.b.c"); x != "literal" {
		t.Fatalf("a.b.c = %v, want the literal key's value, as in the full set", x)
	}
	if !id.HasScopes("read", "write") || !id.HasGroup("staff") {
		t.Fatalf("got %+v", id)
	}
	// A cache hit answers the same.
	again, err := v.Verify(context.Background(), signToken(t, "HS256", testHMACSecret, nil, c))
	if err != nil || !reflect.DeepEqual(again.Claims, want) {
		t.Fatalf("cache hit: %v, %v", again, err)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
