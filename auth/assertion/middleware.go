package assertion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

// DefaultHeader is the header Middleware reads when VerifyOptions.Header
// is empty.
const DefaultHeader = "X-Auth-Assertion"

// DefaultAlgorithms is the allow-list when VerifyOptions.Algorithms is
// nil: every algorithm Gatehouse signs with.
var DefaultAlgorithms = []string{"ES256", "EdDSA", "RS256"}

// VerifyOptions configures Middleware. Issuer, Audience and exactly one of
// JWKSURL and Keys are required.
type VerifyOptions struct {
	// JWKSURL is Gatehouse's /.gatehouse/jwks.json. It is fetched on the
	// first request and again (at most every 10 s) when an assertion names
	// an unknown kid, i.e. after a key rotation.
	JWKSURL string
	// Keys is a static key set instead of JWKSURL.
	Keys jwk.Set
	// Issuer must equal the assertion's iss (jwt.issue.issuer).
	Issuer string
	// Audience must equal the assertion's aud: the name of the Gatehouse
	// route in front of this upstream.
	Audience string
	// Header carries the assertion; "": DefaultHeader.
	Header string
	// Algorithms is the allow-list; nil: the alg members of Keys, or
	// DefaultAlgorithms with JWKSURL.
	Algorithms []string
	// Leeway is the clock skew allowed on exp and iat; 0: none.
	Leeway time.Duration
	// HTTPClient fetches JWKSURL; nil: a client with a 10 s timeout.
	HTTPClient *http.Client
}

type ctxKey struct{}

// FromContext returns the identity Middleware verified, or nil and false.
// The identity's Method is the assertion's auth claim, User and Subject its
// sub.
func FromContext(ctx context.Context) (*auth.Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(*auth.Identity)
	return id, ok
}

// Verifier checks assertions. It is safe for concurrent use.
type Verifier struct {
	v      *jwtauth.Verifier
	header string
}

// NewVerifier checks o and returns a Verifier. It does no network I/O.
func NewVerifier(o VerifyOptions) (*Verifier, error) {
	if o.Issuer == "" || o.Audience == "" {
		return nil, errors.New("assertion: Issuer and Audience are required")
	}
	if o.Algorithms == nil {
		o.Algorithms = DefaultAlgorithms
		if o.Keys != nil {
			o.Algorithms = keyAlgorithms(o.Keys)
		}
	}
	if o.Header == "" {
		o.Header = DefaultHeader
	}
	v, err := jwtauth.NewVerifier(jwtauth.Options{
		Issuers: []jwtauth.IssuerConfig{{
			Issuer: o.Issuer, Audiences: []string{o.Audience}, Algorithms: o.Algorithms,
			JWKSURL: o.JWKSURL, Keys: o.Keys,
		}},
		Leeway: o.Leeway, HTTPClient: o.HTTPClient,
		Type: jwtauth.TypeAssertion, // an access token is never an assertion
	})
	if err != nil {
		return nil, fmt.Errorf("assertion: %w", err)
	}
	return &Verifier{v: v, header: o.Header}, nil
}

// Verify checks an assertion and returns its identity. Errors wrap
// auth.ErrInvalid (bad, expired, for another route) or auth.ErrUnavailable
// (the JWKS could not be fetched).
func (v *Verifier) Verify(ctx context.Context, assertion string) (*auth.Identity, error) {
	id, err := v.v.Verify(ctx, assertion)
	if err != nil {
		return nil, err
	}
	method, _ := id.Claims["auth"].(string)
	if method != auth.MethodSession && method != auth.MethodJWT {
		return nil, &auth.Error{Kind: auth.ErrInvalid, Description: "assertion has no auth claim"}
	}
	id.Method = method
	return id, nil
}

// Middleware verifies the assertion header of every request and puts the
// identity in the request context (FromContext). A request without a valid
// assertion — missing, forged, expired, or made for another route — is
// answered 401 (503 when the JWKS cannot be fetched) and never reaches
// next. It panics if o is invalid, like regexp.MustCompile: options are
// fixed at startup.
func Middleware(o VerifyOptions) func(http.Handler) http.Handler {
	v, err := NewVerifier(o)
	if err != nil {
		panic(err)
	}
	return v.Middleware
}

// Middleware is the http.Handler middleware of v; see Middleware.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get(v.header)
		if tok == "" {
			deny(w, http.StatusUnauthorized, "missing identity assertion")
			return
		}
		id, err := v.Verify(r.Context(), tok)
		switch {
		case errors.Is(err, auth.ErrUnavailable):
			deny(w, http.StatusServiceUnavailable, "identity assertion keys unavailable")
			return
		case err != nil:
			deny(w, http.StatusUnauthorized, "invalid identity assertion: "+auth.Describe(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

func deny(w http.ResponseWriter, status int, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "unauthenticated", "error_description": desc})
}

// keyAlgorithms returns the distinct alg members of set's keys.
func keyAlgorithms(set jwk.Set) []string {
	var out []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		if a := k.Algorithm(); a != nil && a.String() != "" && !slices.Contains(out, a.String()) {
			out = append(out, a.String())
		}
	}
	return out
}
