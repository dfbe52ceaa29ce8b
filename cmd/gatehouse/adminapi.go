package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/proxy/admin"
)

// adminAPI is the /admin/* handler, nil while admin.token_file is unset
// (the admin listener then answers 404 there). The token is the one read
// at start; changing it needs a restart.
func (s *server) adminAPI() (http.Handler, error) {
	if len(s.adminToken) == 0 {
		return nil, nil
	}
	h, err := admin.NewAPI(admin.APIOptions{Token: s.adminToken, Store: s.store, Metrics: s.m, Logger: s.log,
		Tokens: currentVerifier{s}, Audit: s.auditor(), AuditLog: s.auditLog()})
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return h, nil
}

// currentVerifier verifies {"token": …} revocations with the keys of the
// config in force at the time of the call.
type currentVerifier struct{ s *server }

func (c currentVerifier) VerifyIgnoringRevocation(ctx context.Context, token string) (*auth.Identity, error) {
	g := c.s.current.Load()
	if g == nil || g.verifier == nil {
		return nil, &auth.Error{Kind: auth.ErrInvalid, Description: "no token issuer is configured"}
	}
	return g.verifier.VerifyIgnoringRevocation(ctx, token)
}
