package jwtauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// b64 is strict base64url without padding, as JWS compact serialization uses.
var b64 = base64.RawURLEncoding.Strict()

// header is the part of a JOSE header Verify reads. Key-carrying members
// (jwk, jku, x5u, x5c) are deliberately never read.
type header struct {
	alg, kid string
}

// verify checks the token's structure, signature and claims; it does not
// consult the cache or the revocation store.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*auth.Identity, error) {
	hdrPart, rest, ok1 := strings.Cut(token, ".")
	payPart, sigPart, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || hdrPart == "" || payPart == "" || sigPart == "" || strings.Contains(sigPart, ".") {
		return nil, invalid("malformed token")
	}
	hdr, err := v.decodeHeader(hdrPart)
	if err != nil {
		return nil, err
	}
	payload, err := b64.DecodeString(payPart)
	if err != nil {
		return nil, invalid("malformed token")
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, invalid("malformed token")
	}
	iss, _ := claims["iss"].(string)
	is := v.issuers[iss]
	if is == nil {
		return nil, invalid("unknown issuer")
	}
	if !is.algorithms[hdr.alg] {
		return nil, invalid("algorithm not allowed")
	}
	sig, err := b64.DecodeString(sigPart)
	if err != nil {
		return nil, invalid("malformed token")
	}
	input := []byte(token[:len(hdrPart)+1+len(payPart)])
	if err := v.checkSignature(ctx, is, hdr, input, sig); err != nil {
		return nil, err
	}
	if checkUnique(payload) != nil {
		return nil, invalid("repeated claim name")
	}
	return v.identity(is, claims, now)
}

// decodeHeader reads alg and kid, refusing "none" in any letter case, any
// critical extension (RFC 7515 §4.1.11: none is understood here), a
// repeated member name and a typ v does not accept.
func (v *Verifier) decodeHeader(part string) (header, error) {
	raw, err := b64.DecodeString(part)
	if err != nil {
		return header{}, invalid("malformed token")
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return header{}, invalid("malformed token")
	}
	if checkUnique(raw) != nil {
		return header{}, invalid("repeated header name")
	}
	rawTyp, hasTyp := m["typ"]
	typ, isString := rawTyp.(string)
	if hasTyp && !isString {
		return header{}, invalid("malformed token")
	}
	if !typeAccepted(typ, hasTyp, v.typ) {
		return header{}, invalid("token type not accepted")
	}
	alg, ok := m["alg"].(string)
	if !ok || alg == "" {
		return header{}, invalid("malformed token")
	}
	if strings.EqualFold(alg, "none") {
		return header{}, invalid("algorithm not allowed")
	}
	if _, ok := m["crit"]; ok {
		return header{}, invalid("unsupported critical header")
	}
	kid, ok := m["kid"].(string)
	if _, present := m["kid"]; present && !ok {
		return header{}, invalid("malformed token")
	}
	return header{alg: alg, kid: kid}, nil
}

// checkSignature verifies sig with the issuer's keys that fit the kid and
// algorithm. An unknown kid at a JWKS issuer triggers one shared,
// rate-limited refetch.
func (v *Verifier) checkSignature(ctx context.Context, is *issuer, hdr header, input, sig []byte) error {
	ks := is.static
	if is.jwks != nil {
		if ks = is.jwks.keys(); ks == nil {
			ks = is.jwks.refetch(ctx)
		}
		if ks == nil {
			return &auth.Error{Kind: auth.ErrUnavailable, Description: "signing keys unavailable"}
		}
	}
	keys, known := ks.candidates(hdr.kid, hdr.alg)
	if !known && is.jwks != nil {
		if ks = is.jwks.refetch(ctx); ks != nil {
			keys, known = ks.candidates(hdr.kid, hdr.alg)
		}
	}
	if !known && len(keys) == 0 {
		return invalid("unknown signing key")
	}
	verifier := verifiers[hdr.alg]
	for _, k := range keys {
		if verifier.Verify(input, sig, k.raw) == nil {
			return nil
		}
	}
	return invalid("signature invalid")
}

// identity checks the registered claims at now and maps the claim set onto
// an identity.
func (v *Verifier) identity(is *issuer, claims map[string]any, now time.Time) (*auth.Identity, error) {
	exp, ok, err := numericDate(claims, "exp")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, invalid("exp claim missing")
	case !now.Before(exp.Add(v.leeway)):
		return nil, invalid("token expired")
	}
	nbf, ok, err := numericDate(claims, "nbf")
	if err != nil {
		return nil, err
	}
	if ok && now.Add(v.leeway).Before(nbf) {
		return nil, invalid("token not yet valid")
	}
	iat, hasIAT, err := numericDate(claims, "iat")
	if err != nil {
		return nil, err
	}
	if iat.After(now.Add(v.leeway)) {
		return nil, invalid("token issued in the future")
	}
	if v.maxLifetime > 0 {
		if (hasIAT && exp.Sub(iat) > v.maxLifetime) || (!hasIAT && exp.Sub(now) > v.maxLifetime+v.leeway) {
			return nil, invalid("token lifetime too long")
		}
	}
	if !audienceOK(claims["aud"], is.audiences) {
		return nil, invalid("audience not accepted")
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, invalid("subject missing")
	}
	jti, ok := claims["jti"].(string)
	if _, present := claims["jti"]; present && !ok {
		return nil, invalid("jti claim invalid")
	}
	emailPath := orDefault(is.claims.Email, "email")
	if emailUnverified(claims, emailPath) {
		deleteClaim(claims, emailPath) // absent for extra headers and require too
	}
	id := &auth.Identity{
		Subject:   sub,
		User:      claimString(claims, orDefault(is.claims.User, "sub")),
		Email:     claimString(claims, emailPath),
		Groups:    claimStrings(claims, orDefault(is.claims.Groups, "groups")),
		Scopes:    scopes(claims),
		Method:    auth.MethodJWT,
		Issuer:    is.name,
		TokenID:   jti,
		IssuedAt:  iat,
		ExpiresAt: exp,
		Claims:    claims,
	}
	if err := checkExact(id); err != nil {
		return nil, err
	}
	if is.keep != nil {
		id.Claims = pruneClaims(claims, is.keep)
	}
	return id, nil
}

// numericDate reads a NumericDate claim: absent is (zero, false, nil); a
// non-number or a date outside years 1970–9999 is an error.
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	raw, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	f, ok := raw.(float64)
	if !ok || math.IsNaN(f) || f < 0 || f > auth.MaxUnix {
		return time.Time{}, false, invalid(name + " claim invalid")
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)), true, nil
}

// audienceOK reports whether aud (a string or an array of strings) holds
// one of want.
func audienceOK(aud any, want []string) bool {
	switch a := aud.(type) {
	case string:
		return slices.Contains(want, a)
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok && slices.Contains(want, s) {
				return true
			}
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// claimString returns a string claim, or a number formatted without
// exponent; "" for anything else.
func claimString(claims map[string]any, path string) string {
	switch x, _ := auth.LookupClaim(claims, path); x := x.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// claimStrings returns the strings of an array claim, or a single string
// claim as one element; nil otherwise.
func claimStrings(claims map[string]any, path string) []string {
	x, _ := auth.LookupClaim(claims, path)
	switch x := x.(type) {
	case string:
		if x != "" {
			return []string{x}
		}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// scopes reads the space-separated "scope" claim (RFC 8693), else "scp" as
// an array or a space-separated string.
func scopes(claims map[string]any) []string {
	if s, ok := claims["scope"].(string); ok {
		return nilIfEmpty(strings.Fields(s))
	}
	switch scp := claims["scp"].(type) {
	case string:
		return nilIfEmpty(strings.Fields(scp))
	case []any:
		return claimStrings(claims, "scp")
	}
	return nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
