package admin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/prometheus/client_golang/prometheus"
)

// Issue 9 item 9: member names are exact and unique. encoding/json alone
// matches "Subject" to the subject field and keeps the last of repeated
// members.
func TestRevokeMemberNamesExact(t *testing.T) {
	e := newAPIEnv(t, nil)
	future := strconvI(time.Now().Add(time.Hour).Unix())
	cases := map[string]struct{ body, want string }{
		"Subject":            {`{"Subject": "bob"}`, `unknown member "Subject"`},
		"SUBJECT":            {`{"SUBJECT": "bob"}`, `unknown member "SUBJECT"`},
		"JTI":                {`{"JTI": "a", "exp": ` + future + `}`, `unknown member "JTI"`},
		"Exp":                {`{"jti": "a", "Exp": ` + future + `}`, `unknown member "Exp"`},
		"escaped but exact":  {`{"subj\u0065ct": "bob", "subject": "carol"}`, `member "subject" is repeated`},
		"subject twice":      {`{"subject": "carol", "subject": "bob"}`, `member "subject" is repeated`},
		"jti twice":          {`{"jti": "a", "jti": "b", "exp": ` + future + `}`, `member "jti" is repeated`},
		"case twin":          {`{"subject": "bob", "subjecT": "carol"}`, `unknown member "subjecT"`},
		"unknown with token": {`{"token": "x", "reason": "y"}`, `unknown member "reason"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			status, b := e.admin(t, http.MethodPost, "/admin/revoke", c.body)
			if status != http.StatusBadRequest {
				t.Fatalf("got %d, want 400 (%s)", status, b)
			}
			var eb httpx.ErrorBody
			if err := json.Unmarshal([]byte(b), &eb); err != nil || eb.Error != "invalid_request" || eb.RequestID == "" {
				t.Fatalf("body %s, want a JSON error", b)
			}
			if !strings.Contains(eb.ErrorDescription, c.want) {
				t.Errorf("description %q, want it to say %q", eb.ErrorDescription, c.want)
			}
		})
	}
	for _, who := range []string{"bob", "carol"} {
		if at, _ := e.store.SubjectRevokedAt(context.Background(), who); !at.IsZero() {
			t.Errorf("a refused call revoked %s", who)
		}
	}
	if status, b := e.admin(t, http.MethodPost, "/admin/revoke", `{"subject": "bob"}`); status != http.StatusOK {
		t.Fatalf("exact body: got %d %s", status, b)
	}
}

// tokenEnv is an admin API whose {"token": …} revocations are verified by
// a real jwtauth.Verifier trusting signer.
func tokenEnv(t *testing.T) (*apiEnv, *jwtauth.Signer) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	signer, err := jwtauth.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwtauth.NewVerifier(jwtauth.Options{Issuers: []jwtauth.IssuerConfig{{
		Issuer: "https://gate.test", Audiences: []string{"gatehouse"}, Algorithms: []string{signer.Algorithm()}, Keys: signer.PublicKeys(),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ms := memstore.New(nil)
	t.Cleanup(func() { ms.Close() })
	e := &apiEnv{store: ms, logs: &syncBuffer{}, now: time.Now()}
	reg := prometheus.NewRegistry()
	e.m = metrics.New(reg, "test")
	api, err := NewAPI(APIOptions{Token: []byte(testToken), Store: ms, Metrics: e.m,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Tokens: v})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(New(Options{Gatherer: reg, API: api}))
	t.Cleanup(e.srv.Close)
	return e, signer
}

// README "The admin API": {"token": "<JWT>"} revokes the token's jti until its exp,
// after verifying it with the configured keys.
func TestRevokeByToken(t *testing.T) {
	e, signer := tokenEnv(t)
	tok, jti, _, err := signer.Mint(jwtauth.Claims{Issuer: "https://gate.test", Audience: "gatehouse", Subject: "alice", TTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	status, b := e.admin(t, http.MethodPost, "/admin/revoke", `{"token": "`+tok+`"}`)
	if status != http.StatusOK || strings.TrimSpace(b) != `{"revoked":"jti"}` {
		t.Fatalf("got %d %s, want 200 {\"revoked\":\"jti\"}", status, b)
	}
	if revoked, _ := e.store.JTIRevoked(context.Background(), jti); !revoked {
		t.Fatal("the token's jti is not revoked")
	}
	// Again: already revoked is fine.
	if status, b := e.admin(t, http.MethodPost, "/admin/revoke", `{"token": "`+tok+`"}`); status != http.StatusOK {
		t.Fatalf("second revocation: got %d %s", status, b)
	}
	if logs := e.logs.String(); strings.Contains(logs, tok) || !strings.Contains(logs, `"action":"revoke_token"`) {
		t.Fatalf("audit log holds the token or lacks the action:\n%s", logs)
	}

	noJTI, _ := signer.Sign(map[string]any{"iss": "https://gate.test", "aud": "gatehouse", "sub": "alice", "exp": time.Now().Add(time.Minute).Unix()})
	expired, _, _, _ := signer.Mint(jwtauth.Claims{Issuer: "https://gate.test", Audience: "gatehouse", Subject: "alice", TTL: time.Minute, Now: time.Now().Add(-time.Hour)})
	for name, body := range map[string]string{
		"no jti":    `{"token": "` + noJTI + `"}`,
		"expired":   `{"token": "` + expired + `"}`,
		"forged":    `{"token": "` + tok[:len(tok)-4] + `AAAA"}`,
		"garbage":   `{"token": "not-a-jwt"}`,
		"empty":     `{"token": ""}`,
		"with exp":  `{"token": "` + tok + `", "exp": 1}`,
		"and a jti": `{"token": "` + tok + `", "jti": "x"}`,
		"number":    `{"token": 7}`,
	} {
		status, b := e.admin(t, http.MethodPost, "/admin/revoke", body)
		if status != http.StatusBadRequest {
			t.Errorf("%s: got %d %s, want 400", name, status, b)
		}
		if strings.Contains(b, tok[:20]) {
			t.Errorf("%s: the error echoes the token: %s", name, b)
		}
	}
	// Without a verifier, a token cannot be revoked this way.
	plain := newAPIEnv(t, nil)
	if status, b := plain.admin(t, http.MethodPost, "/admin/revoke", `{"token": "`+tok+`"}`); status != http.StatusBadRequest {
		t.Fatalf("without keys: got %d %s, want 400", status, b)
	}
}
