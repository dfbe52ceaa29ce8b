package main

import (
	"log/slog"
	"time"

	"github.com/gatehouse-proxy/gatehouse/config"
)

// subscriptionReporter is a store with a revocation subscription (Redis).
type subscriptionReporter interface{ SubscriptionUp() bool }

// wireGauges points the state gauges (README, "Metrics") at the server's live
// state, and records the initial config load. Called once at start, after
// the store exists and the first config loaded.
func (s *server) wireGauges() {
	s.m.Inflight.Set(func() float64 { return float64(s.inflight.Load()) })
	s.m.StoreUp.SetBool(s.storeUp.Load)
	if sr, ok := s.store.(subscriptionReporter); ok {
		s.m.RevocationSubscriptionUp.SetBool(sr.SubscriptionUp)
	}
	s.m.ConfigLoaded(true, time.Now())
}

// logIgnoredEnv notes, at debug level, the Kubernetes service-link
// variables (GATEHOUSE_PORT, GATEHOUSE_SERVICE_HOST, …) that the config
// ignored.
func logIgnoredEnv(log *slog.Logger, environ []string) {
	if names := config.IgnoredEnv(environ); len(names) > 0 {
		log.Debug("ignored Kubernetes service-link variables; they are not config", "variables", names)
	}
}
