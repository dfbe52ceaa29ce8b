package jwtauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// ClaimMapping names the claims an identity is built from, as dotted paths
// into the claim set ("realm_access.roles"). An empty field means the
// default: "sub", "email", "groups".
type ClaimMapping struct{ User, Email, Groups string }

// IssuerConfig is one trusted token issuer. Exactly one of JWKSURL,
// PublicKeys, HMACSecret and Keys must be set.
type IssuerConfig struct {
	Issuer     string   // matched exactly against the token's iss
	Audiences  []string // the token's aud must contain one; at least one is required
	Algorithms []string // allow-list such as "ES256"; "none" is never accepted
	JWKSURL    string   // http(s) URL of the issuer's JWKS, fetched by Run
	PublicKeys [][]byte // PEM: PUBLIC KEY (RSA/EC/Ed25519), RSA PUBLIC KEY, CERTIFICATE
	HMACSecret []byte   // at least 32 bytes; only with HS* algorithms
	Keys       jwk.Set  // static keys, e.g. a Signer's PublicKeys
	Claims     ClaimMapping
}

// Options configures a Verifier. The zero value of each optional field is
// described on it.
type Options struct {
	Issuers     []IssuerConfig
	Leeway      time.Duration        // clock skew allowed on exp, nbf, iat; 0: none
	Revocations auth.RevocationStore // nil: no revocation check
	HTTPClient  *http.Client         // for JWKS; nil: a client with a 10 s timeout
	Now         func() time.Time     // clock for token times; nil: time.Now
	// OnJWKSRefresh is called after every JWKS fetch with its outcome (nil
	// on success), for metrics. It must be safe for concurrent use. Nil:
	// ignored.
	OnJWKSRefresh func(issuer string, err error)
	Logger        *slog.Logger // nil: discard
	// CacheSize caps the verified-token cache's entries; 0: no cap but
	// CacheBytes; < 0: no cache at all.
	CacheSize int
	// CacheBytes bounds the verified-token cache by the memory its entries
	// keep alive (a conservative estimate: key, identity, retained claims
	// and map overhead); 0: DefaultCacheBytes.
	CacheBytes int64
	// KeepClaims lists claim paths (dotted, as in require.claims and
	// identity_headers.extra) kept in Identity.Claims besides each issuer's
	// mapped user, email and groups claims and scope/scp. Nil keeps the
	// whole claim set; a non-nil list, even empty, keeps only those.
	KeepClaims []string
	// Type is the JOSE header typ a token must carry (compared without
	// case and "application/" prefix), e.g. TypeAssertion. Empty: Bearer
	// mode, which accepts no typ, "JWT" or "at+jwt" and refuses every
	// other type, an identity assertion in particular.
	Type string
	// MaxLifetime refuses tokens whose exp is more than this after their
	// iat (after now, plus leeway, without iat); 0: no limit.
	MaxLifetime time.Duration
}

// MaxTokenSize is the largest token Verify reads; larger ones are refused
// before any decoding.
const MaxTokenSize = 16 << 10

// Verifier verifies Bearer JWTs against a fixed set of issuers. It is safe
// for concurrent use; a nil *Verifier is not valid.
type Verifier struct {
	issuers     map[string]*issuer
	jwks        []*jwksSource
	leeway      time.Duration
	revocations auth.RevocationStore
	now         func() time.Time
	logger      *slog.Logger
	cache       *tokenCache // nil: no cache
	typ         string
	maxLifetime time.Duration
	runOnce     sync.Once
}

// issuer is one IssuerConfig, validated and with its keys converted.
type issuer struct {
	name       string
	audiences  []string
	algorithms map[string]bool
	claims     ClaimMapping
	keep       []string    // claim paths kept in Identity.Claims; nil: all
	static     *keySet     // PEM, HMAC or Keys; nil for JWKS
	jwks       *jwksSource // nil for static keys
}

// NewVerifier validates o and converts every static key once. It does no
// network I/O; call Run to fetch JWKS.
func NewVerifier(o Options) (*Verifier, error) {
	v := &Verifier{
		issuers:     make(map[string]*issuer, len(o.Issuers)),
		leeway:      o.Leeway,
		revocations: o.Revocations,
		now:         o.Now,
		logger:      o.Logger,
		typ:         o.Type,
		maxLifetime: o.MaxLifetime,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.logger == nil {
		v.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Leeway < 0 {
		return nil, fmt.Errorf("leeway %s is negative", o.Leeway)
	}
	if o.MaxLifetime < 0 {
		return nil, fmt.Errorf("max lifetime %s is negative", o.MaxLifetime)
	}
	if o.CacheSize >= 0 {
		bytes := o.CacheBytes
		if bytes <= 0 {
			bytes = DefaultCacheBytes
		}
		v.cache = newTokenCache(bytes, o.CacheSize, o.Leeway)
	}
	var errs []error
	for i, ic := range o.Issuers {
		is, err := v.newIssuer(ic, o)
		if err != nil {
			for _, e := range splitJoined(err) {
				var ake *AlgorithmKeyError
				if errors.As(e, &ake) {
					ake.Issuer = i
				}
				errs = append(errs, fmt.Errorf("issuers[%d] %q: %w", i, ic.Issuer, e))
			}
			continue
		}
		if _, dup := v.issuers[is.name]; dup {
			errs = append(errs, fmt.Errorf("issuers[%d] %q: issuer listed twice", i, ic.Issuer))
			continue
		}
		v.issuers[is.name] = is
		if is.jwks != nil {
			v.jwks = append(v.jwks, is.jwks)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *Verifier) newIssuer(ic IssuerConfig, o Options) (*issuer, error) {
	if ic.Issuer == "" {
		return nil, errors.New("issuer is empty")
	}
	if len(ic.Audiences) == 0 {
		return nil, errors.New("no audiences; list the audiences this proxy accepts")
	}
	is := &issuer{name: ic.Issuer, audiences: ic.Audiences, claims: ic.Claims, algorithms: map[string]bool{}}
	if o.KeepClaims != nil {
		is.keep = append([]string{
			orDefault(ic.Claims.User, "sub"), orDefault(ic.Claims.Email, "email"),
			orDefault(ic.Claims.Groups, "groups"), "scope", "scp",
		}, o.KeepClaims...)
	}
	kinds, err := checkAlgorithms(ic.Algorithms)
	if err != nil {
		return nil, err
	}
	for _, alg := range ic.Algorithms {
		is.algorithms[alg] = true
	}
	sources := 0
	for _, set := range []bool{ic.JWKSURL != "", len(ic.PublicKeys) > 0, len(ic.HMACSecret) > 0, ic.Keys != nil && ic.Keys.Len() > 0} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("set exactly one of a JWKS URL, public keys, an HMAC secret or keys")
	}
	if ic.JWKSURL != "" {
		if kinds[kindHMAC] {
			return nil, errors.New("HS* algorithms need a shared secret and cannot be used with a JWKS URL")
		}
		is.jwks, err = v.newJWKSSource(ic, o)
		return is, err
	}
	keys, err := staticKeys(ic)
	if err != nil {
		return nil, err
	}
	if err := checkAlgorithmKeys(ic.Algorithms, keys); err != nil {
		return nil, err
	}
	is.static = newKeySet(keys)
	return is, nil
}

// checkAlgorithms validates an allow-list and returns the key families it
// needs.
func checkAlgorithms(algs []string) (map[keyKind]bool, error) {
	if len(algs) == 0 {
		return nil, errors.New("no algorithms; list the ones the issuer signs with, e.g. [RS256]")
	}
	kinds := map[keyKind]bool{}
	for _, alg := range algs {
		if strings.EqualFold(alg, "none") {
			return nil, errors.New(`algorithm "none" is never accepted`)
		}
		k, ok := algKinds[alg]
		if !ok {
			return nil, fmt.Errorf("unknown algorithm %q (want one of %s)", alg, supportedAlgorithms())
		}
		kinds[k.kind] = true
	}
	return kinds, nil
}

// staticKeys converts an issuer's PEM keys, HMAC secret or jwk.Set.
func staticKeys(ic IssuerConfig) ([]*verifyKey, error) {
	var keys []*verifyKey
	switch {
	case len(ic.HMACSecret) > 0:
		if len(ic.HMACSecret) < 32 {
			return nil, fmt.Errorf("HMAC secret of %d bytes is too short; use at least 32", len(ic.HMACSecret))
		}
		k, err := newVerifyKey(ic.HMACSecret, "", "")
		if err != nil {
			return nil, err
		}
		k.anyKid = true
		keys = append(keys, k)
	case len(ic.PublicKeys) > 0:
		for i, data := range ic.PublicKeys {
			raws, err := parsePublicPEM(data)
			if err != nil {
				return nil, fmt.Errorf("public key %d: %w", i, err)
			}
			for _, raw := range raws {
				k, err := newVerifyKey(raw, "", "")
				if err != nil {
					return nil, fmt.Errorf("public key %d: %w", i, err)
				}
				keys = append(keys, k)
			}
		}
	default:
		var skipped []error
		if keys, skipped = jwkKeys(ic.Keys, false); len(skipped) > 0 {
			return nil, errors.Join(skipped...)
		}
	}
	return keys, nil
}

func (v *Verifier) newJWKSSource(ic IssuerConfig, o Options) (*jwksSource, error) {
	u, err := url.Parse(ic.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("JWKS URL %q is not an http(s) URL", ic.JWKSURL)
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: jwksTimeout}
	}
	onRefresh := o.OnJWKSRefresh
	if onRefresh == nil {
		onRefresh = func(string, error) {}
	}
	s := &jwksSource{
		issuer: ic.Issuer, url: ic.JWKSURL, client: client, logger: v.logger,
		gap: unknownKidGap,
		onRefresh: func(iss string, err error) {
			if err != nil {
				v.logger.Warn("JWKS refresh failed", "issuer", iss, "error", err)
			}
			onRefresh(iss, err)
		},
	}
	if v.cache != nil {
		s.onChange = v.cache.clear
	}
	return s, nil
}

// Run fetches every JWKS at once, then refreshes each in the background
// (Cache-Control max-age or Expires, clamped to 1 min–1 h, 15 min without
// either; failures retried with backoff) and sweeps expired entries from the
// token cache until ctx is done. It blocks until then; start it in its own
// goroutine. Calls after the first return at once.
func (v *Verifier) Run(ctx context.Context) {
	v.runOnce.Do(func() {
		var wg sync.WaitGroup
		for _, s := range v.jwks {
			wg.Go(func() { s.run(ctx) })
		}
		if v.cache != nil {
			wg.Go(func() { v.sweep(ctx) })
		}
		wg.Wait()
	})
}

// sweep drops expired cache entries every sweepEvery until ctx is done,
// so that memory falls back after tokens expire even without traffic.
func (v *Verifier) sweep(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	v.runSweep(ctx, t.C)
}

func (v *Verifier) runSweep(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			v.cache.sweep(v.now())
		}
	}
}

// Ready reports whether every JWKS has been fetched successfully at least
// once. It is true when no issuer uses a JWKS.
func (v *Verifier) Ready() bool {
	for _, s := range v.jwks {
		if s.keys() == nil {
			return false
		}
	}
	return true
}

// Verify checks token (the Bearer credential, without "Bearer ") and
// returns the caller's identity. Errors are *auth.Error of kind
// auth.ErrInvalid, auth.ErrRevoked or auth.ErrUnavailable, with a
// description safe to show the client. When only the revocation store
// failed (ErrUnavailable after a good signature), the identity is returned
// together with the error, for store.on_error: allow; otherwise it is nil.
func (v *Verifier) Verify(ctx context.Context, token string) (*auth.Identity, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid("token too large")
	}
	now := v.now()
	var key [sha256.Size]byte
	if v.cache != nil {
		key = tokenKey(token)
		if id, ok := v.cache.get(key, now); ok {
			return v.unlessRevoked(ctx, id)
		}
	}
	id, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(key, id, now)
	}
	return v.unlessRevoked(ctx, id)
}

// VerifyIgnoringRevocation is Verify without the revocation check: the
// token's signature, type, times and claims are checked, not whether it or
// its subject was revoked. It is for revoking a token, never for admitting
// a caller.
func (v *Verifier) VerifyIgnoringRevocation(ctx context.Context, token string) (*auth.Identity, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid("token too large")
	}
	now := v.now()
	if v.cache != nil {
		if id, ok := v.cache.get(tokenKey(token), now); ok {
			return id, nil
		}
	}
	return v.verify(ctx, token, now)
}

func (v *Verifier) unlessRevoked(ctx context.Context, id *auth.Identity) (*auth.Identity, error) {
	if err := v.checkRevoked(ctx, id); err != nil {
		if errors.Is(err, auth.ErrUnavailable) {
			// The token verified; only its revocation status is unknown.
			// The identity goes back with the error so that the caller can
			// apply store.on_error: allow.
			return id, err
		}
		return nil, err
	}
	return id, nil
}

// checkRevoked asks the revocation store about id's jti and subject.
func (v *Verifier) checkRevoked(ctx context.Context, id *auth.Identity) error {
	if v.revocations == nil {
		return nil
	}
	if id.TokenID != "" {
		revoked, err := v.revocations.JTIRevoked(ctx, id.TokenID)
		if err != nil {
			return &auth.Error{Kind: auth.ErrUnavailable, Description: "revocation check unavailable", Cause: fmt.Errorf("check jti revocation: %w", err)}
		}
		if revoked {
			return &auth.Error{Kind: auth.ErrRevoked, Description: "token revoked"}
		}
	}
	at, err := v.revocations.SubjectRevokedAt(ctx, id.Subject)
	if err != nil {
		return &auth.Error{Kind: auth.ErrUnavailable, Description: "revocation check unavailable", Cause: fmt.Errorf("check subject revocation: %w", err)}
	}
	if !at.IsZero() && (id.IssuedAt.IsZero() || id.IssuedAt.Unix() <= at.Unix()) {
		return &auth.Error{Kind: auth.ErrRevoked, Description: "token revoked"}
	}
	return nil
}

func invalid(desc string) error {
	return &auth.Error{Kind: auth.ErrInvalid, Description: desc}
}
