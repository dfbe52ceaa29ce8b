package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/admin"
	"github.com/prometheus/client_golang/prometheus"
)

// server is one running Gatehouse: the long-lived parts (store, metrics,
// listeners) and the current generation of everything a config reload
// replaces.
type server struct {
	configPath string
	log        *slog.Logger
	reg        *prometheus.Registry
	m          *metrics.Metrics
	store      auth.Store
	storeUp    atomic.Bool
	stopping   atomic.Bool
	inflight   atomic.Int64
	current    atomic.Pointer[generation]
	reloadMu   sync.Mutex
}

func serveCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "gatehouse serve: -config FILE (or GATEHOUSE_CONFIG) is required")
		return errReported
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse serve: refusing to start; the config has problems:")
		printProblems(stderr, err)
		return errReported
	}
	s := &server{configPath: *path, log: slog.New(slog.NewJSONHandler(stdout, nil)), reg: prometheus.NewRegistry()}
	s.m = metrics.New(s.reg, version)
	mat, err := loadMaterial(cfg)
	if err != nil {
		return err
	}
	if s.store, err = newStore(cfg, mat, s.m, s.log); err != nil {
		return err
	}
	defer s.store.Close()
	gen, err := s.build(cfg, mat)
	if err != nil {
		return err
	}
	s.current.Store(gen)
	return s.run(ctx, cfg)
}

// run listens on both addresses and serves until ctx ends, then drains.
func (s *server) run(ctx context.Context, cfg *config.Config) error {
	proxyLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		proxyLn.Close()
		return fmt.Errorf("admin.listen: %w", err)
	}
	proxySrv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	adminSrv := &http.Server{
		Handler:           admin.New(admin.Options{Gatherer: s.reg, Ready: s.ready, API: s.adminAPI()}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          proxySrv.ErrorLog,
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go s.watchStore(bg, cfg.Store.Timeout)
	go s.watchReloads(bg)
	go func() { _ = adminSrv.Serve(adminLn) }()
	defer adminSrv.Close()
	serveErr := make(chan error, 1)
	go func() { serveErr <- proxySrv.Serve(proxyLn) }()
	s.log.Info("gatehouse started", "listen", proxyLn.Addr().String(), "admin", adminLn.Addr().String(), "version", version)
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return s.drain(proxySrv, s.current.Load().cfg.Server.ShutdownTimeout)
}

// drain stops accepting connections and lets in-flight requests finish, up
// to timeout; a second SIGTERM or SIGINT cuts them at once.
func (s *server) drain(srv *http.Server, timeout time.Duration) error {
	s.stopping.Store(true) // /readyz answers 503 from now on
	s.log.Info("shutting down", "in_flight", s.inflight.Load(), "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	again := make(chan os.Signal, 1)
	signal.Notify(again, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(again)
	go func() {
		select {
		case <-again:
			s.log.Warn("second signal: stopping now")
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := srv.Shutdown(ctx); err != nil {
		cut := s.inflight.Load()
		_ = srv.Close()
		s.log.Error("shutdown cut requests short", "cut", cut, "error", err)
		return fmt.Errorf("shutdown: %d requests cut: %w", cut, err)
	}
	s.log.Info("shutdown complete")
	return nil
}

// ServeHTTP hands each request to the generation current when it arrived, so
// a reload never changes the rules under an in-flight request.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	s.current.Load().proxy.ServeHTTP(w, r)
}

// ready is /readyz's answer.
func (s *server) ready() error {
	switch {
	case s.stopping.Load():
		return errors.New("shutting down")
	case !s.storeUp.Load():
		return errors.New("store not answering")
	}
	if g := s.current.Load(); g == nil {
		return errors.New("config not loaded")
	} else if g.verifier != nil && !g.verifier.Ready() {
		return errors.New("JWKS not fetched yet")
	}
	return nil
}

// watchStore pings the store every second for /readyz.
func (s *server) watchStore(ctx context.Context, timeout time.Duration) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := s.store.Ping(pctx)
		cancel()
		if up := err == nil; up != s.storeUp.Swap(up) {
			s.log.Info("store state changed", "up", up, "error", errString(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
