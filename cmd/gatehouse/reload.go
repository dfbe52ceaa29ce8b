package main

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"

	"github.com/knadh/koanf/providers/file"
)

// watchReloads reloads the config on SIGHUP and when the config file
// changes on disk.
func (s *server) watchReloads(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	changed := make(chan struct{}, 1)
	fp := file.Provider(s.configPath)
	if err := fp.Watch(func(_ any, err error) {
		if err == nil {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}); err != nil {
		s.log.Warn("config file watch unavailable; reload with SIGHUP", "error", err)
	}
	defer fp.Unwatch()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload("signal")
		case <-changed:
			// Editors write in several steps; let the file settle.
			time.Sleep(200 * time.Millisecond)
			s.reload("file")
		}
	}
}

// reload builds a new generation from the config file and swaps it in. A
// config that fails validation is refused and the old one keeps serving.
func (s *server) reload(trigger string) bool {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := loadConfig(s.configPath)
	if err == nil {
		var mat *material
		if mat, err = loadMaterial(cfg); err == nil {
			var g *generation
			if g, err = s.build(cfg, mat); err == nil {
				old := s.current.Swap(g)
				if !reflect.DeepEqual(old.cfg.Store, cfg.Store) || old.cfg.Listen != cfg.Listen || old.cfg.Admin.Listen != cfg.Admin.Listen {
					s.log.Warn("store and listen settings are applied at start only; restart to apply them")
				}
				old.cancel()
				s.m.ConfigReloads.WithLabelValues("success").Inc()
				s.log.Info("config reloaded", "trigger", trigger)
				return true
			}
		}
	}
	s.m.ConfigReloads.WithLabelValues("error").Inc()
	s.log.Error("config reload refused; the previous config keeps serving", "trigger", trigger, "error", err.Error())
	return false
}

// tlsConfig is the client TLS config for Redis: system roots, TLS 1.2+.
func tlsConfig(addrs []string) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(addrs) == 1 {
		if host, _, err := net.SplitHostPort(addrs[0]); err == nil {
			c.ServerName = host
		}
	}
	return c
}
