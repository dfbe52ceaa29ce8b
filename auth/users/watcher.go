package users

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// PollInterval is how often a Watcher looks at its files.
const PollInterval = time.Second

// Watcher holds the current Directory and replaces it when the users file
// or the htpasswd file changes on disk. A file that fails to load is logged
// and the previous Directory keeps serving. It polls the files' contents,
// so it also sees Kubernetes ConfigMap updates (symlink swaps). Safe for
// concurrent use; the zero Watcher is not usable, use NewWatcher.
type Watcher struct {
	usersFile, htpasswdFile string
	logger                  *slog.Logger
	interval                time.Duration
	dir                     atomic.Pointer[Directory]
	sum                     []byte // digest of the files last loaded; owned by Run
}

// NewWatcher loads both files (see Load) and returns a Watcher serving
// them. A nil logger discards logs.
func NewWatcher(usersFile, htpasswdFile string, logger *slog.Logger) (*Watcher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{usersFile: usersFile, htpasswdFile: htpasswdFile, logger: logger, interval: PollInterval}
	w.sum = w.digest()
	d, err := Load(usersFile, htpasswdFile)
	if err != nil {
		return nil, err
	}
	w.dir.Store(d)
	return w, nil
}

// Run polls the files until ctx is done, reloading them when their content
// changes. It returns nil when ctx ends. Call it at most once.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.check()
		}
	}
}

func (w *Watcher) check() {
	sum := w.digest()
	if bytes.Equal(sum, w.sum) {
		return
	}
	d, err := Load(w.usersFile, w.htpasswdFile)
	// A file that changed while being loaded is loaded again next time.
	w.sum = sum
	if !bytes.Equal(w.digest(), sum) {
		w.sum = nil
	}
	if err != nil {
		w.logger.Error("users reload failed; keeping the previous users", "error", err)
		return
	}
	w.dir.Store(d)
	w.logger.Info("users reloaded", "users", d.Len())
}

// digest hashes both files' contents; an unreadable file hashes as a
// marker so that it counts as a change once it becomes readable.
func (w *Watcher) digest() []byte {
	h := sha256.New()
	for _, name := range []string{w.usersFile, w.htpasswdFile} {
		if name == "" {
			h.Write([]byte{0})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			h.Write([]byte{1})
			continue
		}
		h.Write([]byte{2})
		_, _ = io.Copy(h, f)
		f.Close()
	}
	return h.Sum(nil)
}

// Directory returns the Directory currently serving.
func (w *Watcher) Directory() *Directory { return w.dir.Load() }

// Authenticate checks a password against the current Directory (see
// Directory.Authenticate).
func (w *Watcher) Authenticate(username, password string) (User, bool) {
	return w.dir.Load().Authenticate(username, password)
}
