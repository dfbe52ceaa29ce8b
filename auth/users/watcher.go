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

	"github.com/gatehouse-proxy/gatehouse/internal/filestat"
)

// PollInterval is how often a Watcher looks at its files' metadata (size,
// modification time, identity through symlinks): a file replaced (renamed
// over, a ConfigMap's symlink swap) is reloaded within one poll, one edited
// in place within two.
const PollInterval = 200 * time.Millisecond

// FullCheckInterval is how often a Watcher also hashes the files' contents,
// to catch an edit that kept the size and the modification time.
const FullCheckInterval = 2 * time.Second

// Watcher holds the current Directory and replaces it when the users file
// or the htpasswd file changes on disk. A file that fails to load is logged
// and the previous Directory keeps serving. It polls the files through
// their paths (symlinks followed), so it also sees editors that replace a
// file and Kubernetes ConfigMap updates (symlink swaps), within one
// PollInterval (two for a file edited in place). Safe for concurrent use; the zero Watcher is not usable,
// use NewWatcher.
type Watcher struct {
	// OnReload, if not nil, is called after each reload that swapped in a
	// new Directory, with the previous and the new one, from the goroutine
	// running Run (so one call at a time). Set it before Run.
	OnReload func(old, cur *Directory)

	usersFile, htpasswdFile string
	logger                  *slog.Logger
	interval                time.Duration
	dir                     atomic.Pointer[Directory]
	sum                     []byte        // digest of the files last loaded; owned by Run
	stats                   []os.FileInfo // the files' metadata at the last look; owned by Run
	lastFull                time.Time     // when the contents were last hashed; owned by Run
	pending                 bool          // metadata changed since the last load; owned by Run
}

// NewWatcher loads both files (see Load) and returns a Watcher serving
// them. A nil logger discards logs.
func NewWatcher(usersFile, htpasswdFile string, logger *slog.Logger) (*Watcher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{usersFile: usersFile, htpasswdFile: htpasswdFile, logger: logger, interval: PollInterval}
	w.stats = filestat.Stat(w.usersFile, w.htpasswdFile)
	w.sum = w.digest()
	w.lastFull = time.Now()
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

// check reloads the files when their metadata has changed: at once when a
// file was replaced (renamed over, or a symlink swapped: the new file is
// complete), after one more quiet poll when it was edited in place (so
// that a file being written is not read half-way); and when a full check
// every FullCheckInterval finds their contents changed. A load that saw
// the files change under it is not used; the next poll tries again.
func (w *Watcher) check() {
	stats := filestat.Stat(w.usersFile, w.htpasswdFile)
	if !filestat.Same(stats, w.stats) {
		replaced := !sameFiles(stats, w.stats)
		w.stats, w.pending = stats, true
		if !replaced {
			return
		}
	}
	if !w.pending && time.Since(w.lastFull) < FullCheckInterval {
		return
	}
	w.pending, w.lastFull = false, time.Now()
	sum := w.digest()
	if bytes.Equal(sum, w.sum) {
		return
	}
	d, err := Load(w.usersFile, w.htpasswdFile)
	if !bytes.Equal(w.digest(), sum) || !filestat.Same(filestat.Stat(w.usersFile, w.htpasswdFile), stats) {
		w.pending = true // changed while being loaded: look again next time
		return
	}
	w.sum = sum
	if err != nil {
		w.logger.Error("users reload failed; keeping the previous users", "error", err)
		return
	}
	old := w.dir.Swap(d)
	w.logger.Info("users reloaded", "users", d.Len())
	if w.OnReload != nil {
		w.OnReload(old, d)
	}
}

// sameFiles reports whether a and b name the same files (or the same
// absences), whatever their content.
func sameFiles(a, b []os.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || (a[i] != nil && !os.SameFile(a[i], b[i])) {
			return false
		}
	}
	return true
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

// CheckPassword checks a password against the current Directory (see
// Directory.CheckPassword).
func (w *Watcher) CheckPassword(username, password string) (User, bool) {
	return w.dir.Load().CheckPassword(username, password)
}
