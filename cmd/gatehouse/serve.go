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
	"go.opentelemetry.io/otel/trace"
)

// server is one running Gatehouse: the long-lived parts (store, metrics,
// listeners) and the current generation of everything a config reload
// replaces. Its methods are safe for concurrent use.
type server struct {
	configPath string
	log        *slog.Logger
	logLevel   *slog.LevelVar // log.level, changed by a reload; nil in tests that build a server by hand
	reg        *prometheus.Registry
	m          *metrics.Metrics
	store      auth.Store
	storeUp    atomic.Bool
	storeKick  chan struct{} // a store call failed while storeUp: check now (see watchStore)
	stopping   atomic.Bool
	inflight   atomic.Int64 // proxy requests running, upgraded connections included
	current    atomic.Pointer[generation]
	reloadMu   sync.Mutex
	// reloadSettle is how long the config file must stay quiet after a
	// change before it is reloaded. Zero: defaultReloadSettle.
	reloadSettle time.Duration
	adminToken   []byte // admin.token_file as read at start; nil: /admin/* answers 404

	transportMu sync.Mutex
	transport   *http.Transport // upstream pool shared by every generation
	transportTO time.Duration   // the upstream_timeout it was built with

	tracer trace.TracerProvider // tracing.* as at start (tracing.go); nil: tracing off
}

// Why a drain ended early.
var (
	errDrainTimeout = errors.New("server.shutdown_timeout reached")
	errSecondSignal = errors.New("second signal")
)

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
	cfg, mat, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse serve: refusing to start; the config has problems:")
		printProblems(stderr, err)
		return errReported
	}
	logOut, flushLog := bufferedLog(stdout, 100*time.Millisecond)
	defer flushLog()
	s := &server{configPath: *path, logLevel: new(slog.LevelVar), reg: prometheus.NewRegistry()}
	s.log = newLogger(logOut, cfg.Log, s.logLevel)
	s.m = metrics.New(s.reg, version)
	s.adminToken = mat.adminToken
	s.storeKick = make(chan struct{}, 1)
	stopTracing := s.startTracing(cfg.Tracing)
	defer stopTracing() // after the drain: the last spans are exported
	if s.store, err = newStore(cfg, mat, s.m, s.log, s.storeCalled, s.tracer); err != nil {
		return err
	}
	defer s.store.Close()
	api, err := s.adminAPI()
	if err != nil {
		return err
	}
	gen, err := s.build(cfg, mat)
	if err != nil {
		return err
	}
	s.current.Store(gen)
	s.wireGauges()
	logIgnoredEnv(s.log, environ())
	return s.run(ctx, cfg, api)
}

// run listens on both addresses and serves until ctx ends, then drains.
// api serves /admin/* on the admin listener; nil: 404 there.
func (s *server) run(ctx context.Context, cfg *config.Config, api http.Handler) error {
	proxyLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		proxyLn.Close()
		return fmt.Errorf("admin.listen: %w", err)
	}
	// Every proxy request's context derives from reqCtx, so that cutting a
	// drain short also ends upgraded (hijacked) connections, which
	// http.Server.Close does not reach.
	reqCtx, cutRequests := context.WithCancel(context.Background())
	defer cutRequests()
	// No WriteTimeout: it would cut long downloads and WebSockets. A client
	// that stops reading holds only its own connection and goroutine.
	proxySrv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
	}
	adminSrv := &http.Server{
		Handler:           admin.New(admin.Options{Gatherer: s.reg, Ready: s.ready, API: api}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          proxySrv.ErrorLog,
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	serve := proxySrv.Serve
	if t := cfg.Server.TLS; t.Enabled() {
		// The certificate watch, like the reload watch, exists before the
		// listener serves.
		certs, err := newCertReloader(t.CertFile, t.KeyFile, s.log)
		if err != nil {
			proxyLn.Close()
			adminLn.Close()
			return err
		}
		go certs.run(bg)
		proxySrv.TLSConfig = serverTLSConfig(certs)
		serve = func(l net.Listener) error { return proxySrv.ServeTLS(l, "", "") }
	}
	go s.watchStore(bg, cfg.Store.Timeout)
	// The reload watch exists before either listener serves: a change
	// made once /healthz answers is seen.
	rw := s.newReloadWatch()
	go s.watchReloads(bg, rw)
	go func() { _ = adminSrv.Serve(adminLn) }()
	defer adminSrv.Close() // last: /readyz answers 503 throughout the drain
	serveErr := make(chan error, 1)
	go func() { serveErr <- serve(proxyLn) }()
	s.log.Info("gatehouse started", "listen", proxyLn.Addr().String(), "tls", cfg.Server.TLS.Enabled(),
		"admin", adminLn.Addr().String(), "version", version)
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return s.drain(proxySrv, cutRequests, s.current.Load().cfg.Server.ShutdownTimeout)
}

// drain stops accepting connections and lets in-flight requests finish,
// upgraded connections included, for at most timeout. A second SIGTERM or
// SIGINT cuts them at once. It returns nil when nothing was cut.
func (s *server) drain(srv *http.Server, cutRequests context.CancelFunc, timeout time.Duration) error {
	again := make(chan os.Signal, 1)
	signal.Notify(again, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(again)
	s.stopping.Store(true) // /readyz answers 503 from now on
	s.log.Info("shutting down: the proxy listener is closed, draining in-flight requests",
		"in_flight", s.inflight.Load(), "timeout", timeout.String())
	sigCtx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	ctx, cancel := context.WithTimeoutCause(sigCtx, timeout, errDrainTimeout)
	defer cancel()
	go func() {
		select {
		case <-again:
			stop(errSecondSignal)
		case <-ctx.Done():
		}
	}()
	err := srv.Shutdown(ctx) // closes the listener and idle connections, waits for active ones
	if err == nil {
		err = s.waitRequests(ctx) // Shutdown does not wait for hijacked connections
	}
	if err == nil {
		s.log.Info("shutdown complete")
		return nil
	}
	cut := s.inflight.Load()
	cause := context.Cause(ctx)
	cutRequests()
	_ = srv.Close()
	s.log.Error("shutdown cut requests short", "cut", cut, "reason", cause.Error())
	return fmt.Errorf("shutdown: %w: %d in-flight requests cut", cause, cut)
}

// waitRequests waits until no proxy request is running, or ctx ends.
func (s *server) waitRequests(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// ServeHTTP hands each request to the generation current when it arrived, so
// a reload never changes the rules under an in-flight request. The request
// counts as in flight until the handler returns, which for an upgraded
// connection (WebSocket) is when the connection ends.
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
