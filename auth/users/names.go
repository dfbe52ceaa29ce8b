package users

// Names returns the names of the Directory's users, in no order (the
// admin console's user search). A nil Directory has none.
func (d *Directory) Names() []string {
	if d == nil {
		return nil
	}
	out := make([]string, 0, len(d.users))
	for n := range d.users {
		out = append(out, n)
	}
	return out
}

// Names returns the names of the current Directory's users.
func (w *Watcher) Names() []string { return w.dir.Load().Names() }
