package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// TokenVerifier checks a JWT given to POST /admin/revoke as {"token": …}
// with the configured keys, without consulting the revocation list (a
// revoked token may be revoked again). *jwtauth.Verifier satisfies it.
type TokenVerifier interface {
	VerifyIgnoringRevocation(ctx context.Context, token string) (*auth.Identity, error)
}

// revokeMembers are the member names of a revocation body, exactly: JSON
// member names are case-sensitive here, unlike encoding/json's matching.
var revokeMembers = []string{"jti", "exp", "subject", "token"}

// readRevokeBody reads the body (at most maxBody) and checks its shape: one
// JSON object, nothing after it, whose member names are among
// revokeMembers, exactly, each at most once. It returns the body or a
// problem for the client.
func readRevokeBody(c *call) ([]byte, string) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxBody))
	if err != nil {
		return nil, bodyProblem(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, bodyProblem(io.EOF)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, `the body must be one JSON object, e.g. {"subject": "alice"}`
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "the body is not valid JSON"
		}
		name, _ := tok.(string)
		switch {
		case !slices.Contains(revokeMembers, name):
			return nil, fmt.Sprintf("unknown member %q; the members are jti, exp, subject and token (lower case)", clip(name))
		case seen[name]:
			return nil, fmt.Sprintf("member %q is repeated; give it once", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, "the body is not valid JSON"
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, "the body is not valid JSON"
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "the body must hold one JSON object and nothing after it"
	}
	return raw, ""
}

// revokeToken serves {"token": …}: the token is verified with the
// configured keys, and its jti revoked until its exp.
func (a *api) revokeToken(c *call, token string) {
	c.action = "revoke_token"
	if a.tokens == nil {
		c.fail(http.StatusBadRequest, "invalid_request", `no JWT keys are configured to verify a token; give "jti" and "exp" instead`)
		return
	}
	ctx := c.r.Context()
	id, err := a.tokens.VerifyIgnoringRevocation(ctx, token)
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		c.unavailable(err)
		return
	case err != nil:
		c.cause = err
		c.fail(http.StatusBadRequest, "invalid_request", "the token does not verify: "+auth.Describe(err))
		return
	case id.TokenID == "":
		c.fail(http.StatusBadRequest, "invalid_request", `the token has no jti; revoke its "subject" instead`)
		return
	}
	c.set(slog.String("jti", clip(id.TokenID)), slog.String("subject", clip(id.Subject)))
	if err := a.store.RevokeJTI(ctx, id.TokenID, id.ExpiresAt); err != nil {
		c.unavailable(err)
		return
	}
	a.countRevocations("jti", 1)
	c.set(slog.Int("count", 1))
	c.event = auth.AuditEvent{Kind: auth.AuditRevocation, User: id.Subject, Detail: "token jti " + clip(id.TokenID) + " revoked"}
	c.ok(map[string]string{"revoked": "jti"})
}
