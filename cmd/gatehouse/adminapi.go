package main

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/proxy/admin"
)

// adminAPI is the /admin/* handler, nil while admin.token_file is unset
// (the admin listener then answers 404 there). The token is the one read
// at start; changing it needs a restart.
func (s *server) adminAPI() http.Handler {
	if len(s.adminToken) == 0 {
		return nil
	}
	return admin.NewAPI(admin.APIOptions{Token: s.adminToken, Store: s.store, Metrics: s.m, Logger: s.log})
}
