package assertion_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/assertion"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

// An upstream behind the Gatehouse route "billing" trusts the identity in
// X-Auth-Assertion, and only assertions made for "billing".
func Example() {
	// In production: the key of jwt.issue.signing_key_file, inside Gatehouse.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	key, _ := jwtauth.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil)
	gatehouse, _ := assertion.NewSigner(assertion.SignerOptions{Key: key, Issuer: "https://gate.example"})

	// The upstream. In production use JWKSURL: "https://gate.example/.gatehouse/jwks.json".
	app := assertion.Middleware(assertion.VerifyOptions{
		Keys: key.PublicKeys(), Issuer: "https://gate.example", Audience: "billing",
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := assertion.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s (%s, groups %s, via %s)", id.User, id.Email, strings.Join(id.Groups, ","), id.Method)
	}))

	alice := &auth.Identity{User: "alice", Email: "alice@example.com", Groups: []string{"staff"}, Method: auth.MethodSession}
	for _, route := range []string{"billing", "wiki"} {
		a, _ := gatehouse.Assert(alice, route)
		req := httptest.NewRequest("GET", "/invoices", nil)
		req.Header.Set("X-Auth-Assertion", a)
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		fmt.Println(route+":", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// billing: 200 hello alice (alice@example.com, groups staff, via session)
	// wiki: 401 {"error":"unauthenticated","error_description":"invalid identity assertion: audience not accepted"}
}
