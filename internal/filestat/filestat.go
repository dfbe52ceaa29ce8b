// Package filestat tells whether files changed between two polls, by their
// metadata: the users-file watcher and the TLS certificate reloader poll
// files this way (it sees renames over a file and Kubernetes' symlink swaps,
// which a watch on the file itself can miss).
package filestat

import "os"

// Stat returns the metadata of each named file, following symlinks; nil for
// an empty name or a file that cannot be read.
func Stat(names ...string) []os.FileInfo {
	out := make([]os.FileInfo, len(names))
	for i, name := range names {
		if name != "" {
			out[i], _ = os.Stat(name)
		}
	}
	return out
}

// Same reports whether a and b describe the same files with the same size
// and modification time.
func Same(a, b []os.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		switch {
		case a[i] == nil && b[i] == nil:
		case a[i] == nil || b[i] == nil:
			return false
		case !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()):
			return false
		}
	}
	return true
}
