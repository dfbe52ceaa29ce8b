package main

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/proxy/console"
)

// mountConsole mounts the admin console on the reserved paths when
// admin.console.groups is set (otherwise /.gatehouse/admin/ is 404).
func (s *server) mountConsole(mux *http.ServeMux, cfg *config.Config, g *generation) error {
	if len(cfg.Admin.Console.Groups) == 0 {
		return nil
	}
	st, ok := s.store.(console.Store)
	if !ok {
		return nil
	}
	o := console.Options{
		Groups: cfg.Admin.Console.Groups, Networks: cfg.ConsoleNetworks(),
		Decider: g.decider, Store: st, Tokens: currentVerifier{s}, Pages: g.pages,
		Audit: s.auditor(), Metrics: s.m, Secure: cfg.Session.Secure, Logger: s.log,
	}
	if n, ok := g.users.(interface{ Names() []string }); ok {
		o.Users = n.Names
	}
	h, err := console.New(o)
	if err != nil {
		return err
	}
	mux.Handle(console.Prefix, h)
	return nil
}
