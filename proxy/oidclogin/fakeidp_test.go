package oidclogin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// fakeIdP is a minimal OpenID Provider written for the tests that need
// tokens a real IdP would never issue: it serves discovery and a JWKS of
// its RSA key, redirects /auth straight back with a code, and answers
// /token with whatever idToken (or tokenReply) makes of the request's
// nonce. Its tokens are signed in the test; the verifier under test is
// Gatehouse's.
type fakeIdP struct {
	t      *testing.T
	srv    *httptest.Server
	Issuer string
	key    jwk.Key // the published signing key (RS256)
	other  jwk.Key // a key the IdP does not publish

	mu         sync.Mutex
	nonces     map[string]string // code → nonce
	tokenReply func(w http.ResponseWriter, nonce string)
}

func newFakeIdP(t *testing.T) *fakeIdP {
	f := &fakeIdP{t: t, nonces: map[string]string{}}
	f.key = rsaKey(t, "k1")
	f.other = rsaKey(t, "k1") // same kid, other key
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.Issuer = f.srv.URL
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer": f.Issuer, "authorization_endpoint": f.Issuer + "/auth", "token_endpoint": f.Issuer + "/token",
			"jwks_uri": f.Issuer + "/jwks", "end_session_endpoint": f.Issuer + "/logout",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code"}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		pub, _ := f.key.PublicKey()
		set := jwk.NewSet()
		_ = set.AddKey(pub)
		writeJSON(w, set)
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := randomString()
		f.mu.Lock()
		f.nonces[code] = q.Get("nonce")
		f.mu.Unlock()
		u, _ := url.Parse(q.Get("redirect_uri"))
		u.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		nonce, ok := f.nonces[r.PostForm.Get("code")]
		delete(f.nonces, r.PostForm.Get("code"))
		reply := f.tokenReply
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
		reply(w, nonce)
	})
	return f
}

func rsaKey(t *testing.T, kid string) jwk.Key {
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := jwk.FromRaw(raw)
	_ = k.Set(jwk.KeyIDKey, kid)
	_ = k.Set(jwk.AlgorithmKey, jwa.RS256)
	return k
}

func ecKey(t *testing.T) jwk.Key {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, _ := jwk.FromRaw(raw)
	_ = k.Set(jwk.KeyIDKey, "k1")
	return k
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// claims are the standard claims of a good ID token for the client.
func (f *fakeIdP) claims(nonce string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": f.Issuer, "aud": "client", "sub": "u1", "nonce": nonce, "sid": "s1",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"preferred_username": "dave", "email": "dave@example.com", "groups": []string{"staff"},
	}
}

// sign signs claims with key and alg (RS256 with the published key when
// key is nil).
func (f *fakeIdP) sign(claims map[string]any, key jwk.Key, alg jwa.SignatureAlgorithm) string {
	f.t.Helper()
	if key == nil {
		key, alg = f.key, jwa.RS256
	}
	payload, _ := json.Marshal(claims)
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, "k1")
	b, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

// unsigned is claims as a JWT with alg none.
func unsigned(claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "."
}

// replyID makes /token answer with the ID token idToken(nonce).
func (f *fakeIdP) replyID(idToken func(nonce string) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenReply = func(w http.ResponseWriter, nonce string) {
		writeJSON(w, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": idToken(nonce)})
	}
}

func (f *fakeIdP) reply(fn func(w http.ResponseWriter, nonce string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenReply = fn
}
