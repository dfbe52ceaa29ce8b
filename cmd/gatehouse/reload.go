package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/gatehouse-proxy/gatehouse/config"
)

// defaultReloadSettle is how long the config file must stay quiet before a
// change is reloaded: editors and ConfigMap updates write in several steps.
const defaultReloadSettle = 250 * time.Millisecond

// reloadWatch is what watchReloads listens to: SIGHUP and, when the
// platform allows it, the config file's directory. It is set up before the
// listeners serve, so that a change made once /healthz answers is never
// missed.
type reloadWatch struct {
	hup chan os.Signal
	cw  *configWatcher // nil: reload with SIGHUP only
}

// newReloadWatch subscribes to SIGHUP and starts watching the config file.
func (s *server) newReloadWatch() *reloadWatch {
	rw := &reloadWatch{hup: make(chan os.Signal, 1)}
	signal.Notify(rw.hup, syscall.SIGHUP)
	cw, err := newConfigWatcher(s.configPath)
	if err != nil {
		s.log.Warn("config file watch unavailable; reload with SIGHUP", "error", err.Error())
	} else {
		rw.cw = cw
	}
	return rw
}

func (rw *reloadWatch) close() {
	signal.Stop(rw.hup)
	if rw.cw != nil {
		rw.cw.w.Close()
	}
}

// watchReloads reloads the config on SIGHUP and when the config file changes
// on disk, until ctx ends; then it closes rw. File changes are debounced.
func (s *server) watchReloads(ctx context.Context, rw *reloadWatch) {
	defer rw.close()
	settle := s.reloadSettle
	if settle <= 0 {
		settle = defaultReloadSettle
	}
	debounce := time.NewTimer(settle)
	debounce.Stop()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if rw.cw != nil {
		events, errs = rw.cw.w.Events, rw.cw.w.Errors
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-rw.hup:
			s.reload("signal")
		case ev := <-events:
			if rw.cw.relevant(ev) {
				debounce.Reset(settle)
			}
		case err := <-errs:
			s.log.Warn("config file watch", "error", err.Error())
		case <-debounce.C:
			s.reload("file")
		}
	}
}

// configWatcher watches the config file through its directory, so that it
// sees editors that replace the file (write a temporary file, rename it
// over) and the Kubernetes ConfigMap pattern, where the file is a symlink
// through a "..data" symlink that the kubelet swaps atomically.
type configWatcher struct {
	w    *fsnotify.Watcher
	path string // as given, cleaned
	real string // where path resolved to at the last event
}

func newConfigWatcher(path string) (*configWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	cw := &configWatcher{w: w, path: filepath.Clean(path)}
	if err := w.Add(filepath.Dir(cw.path)); err != nil {
		w.Close()
		return nil, err
	}
	cw.resolve()
	return cw, nil
}

// resolve follows the symlinks of path and watches the target's directory
// too when it lies elsewhere. It reports whether the target changed.
func (cw *configWatcher) resolve() bool {
	real, err := filepath.EvalSymlinks(cw.path)
	if err != nil {
		real = "" // missing for now; a reload will say so if it stays missing
	}
	changed := real != cw.real
	cw.real = real
	if changed && real != "" && filepath.Dir(real) != filepath.Dir(cw.path) {
		_ = cw.w.Add(filepath.Dir(real)) // best effort: a ConfigMap's target directory is replaced, not edited
	}
	return changed
}

// relevant reports whether ev may have changed the config file's content.
func (cw *configWatcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Clean(ev.Name)
	moved := cw.resolve()
	return moved || name == cw.path || (cw.real != "" && name == cw.real)
}

// reload builds a new generation from the config file and swaps it in.
// Requests already running finish on the generation they started with. A
// config that fails validation, names a file that cannot be read, or cannot
// be built is refused; the old one keeps serving.
func (s *server) reload(trigger string) bool {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	g, err := s.buildFromFile()
	if err != nil {
		s.m.ObserveConfigReload(false)
		s.log.Error("config reload refused; the previous config keeps serving",
			"trigger", trigger, "config", s.configPath, "error", err.Error())
		return false
	}
	old := s.current.Swap(g)
	s.applyLogLevel(g.cfg)
	if keys := restartOnly(old.cfg, g.cfg); len(keys) > 0 {
		s.log.Warn("config reloaded, but these settings apply at start only; restart to apply them", "keys", keys)
	}
	old.cancel() // stops the old generation's background work; its requests still finish
	s.m.ObserveConfigReload(true)
	s.log.Info("config reloaded", "trigger", trigger, "routes", len(g.cfg.Routes))
	return true
}

func (s *server) buildFromFile() (*generation, error) {
	cfg, mat, err := loadConfig(s.configPath)
	if err != nil {
		return nil, err
	}
	return s.build(cfg, mat)
}

// restartOnly lists the changed keys that a reload does not apply: the
// listeners, the store, the proxy listener's connection limits and TLS
// files (the files' contents are re-read when they change; naming other
// files, or turning TLS on or off, needs a restart), the log format
// (log.level and log.access apply on reload), and the tracer provider's
// settings (tracing.user applies on reload).
func restartOnly(old, cur *config.Config) []string {
	var keys []string
	for _, c := range []struct {
		key     string
		changed bool
	}{
		{"listen", old.Listen != cur.Listen},
		{"admin.listen", old.Admin.Listen != cur.Admin.Listen},
		{"admin.token_file", old.Admin.TokenFile != cur.Admin.TokenFile},
		{"store", !reflect.DeepEqual(old.Store, cur.Store)},
		{"server.tls", old.Server.TLS != cur.Server.TLS},
		{"server.read_header_timeout", old.Server.ReadHeaderTimeout != cur.Server.ReadHeaderTimeout},
		{"server.idle_timeout", old.Server.IdleTimeout != cur.Server.IdleTimeout},
		{"server.max_header_bytes", old.Server.MaxHeaderBytes != cur.Server.MaxHeaderBytes},
		{"log.format", old.Log.Format != cur.Log.Format},
		{"tracing.otlp_endpoint", old.Tracing.OTLPEndpoint != cur.Tracing.OTLPEndpoint},
		{"tracing.sample_ratio", old.Tracing.SampleRatio != cur.Tracing.SampleRatio},
		{"tracing.service_name", old.Tracing.ServiceName != cur.Tracing.ServiceName},
	} {
		if c.changed {
			keys = append(keys, c.key)
		}
	}
	return keys
}
