package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
)

// localUsers is the users files as they are now: passwords for the login
// form and the password grant, and the lookup by which sessions and
// refresh families follow the files (users.Watcher, or an empty
// users.Directory without users files).
type localUsers interface {
	passwords.Checker
	Lookup(name string) (u users.User, fingerprint string, ok bool)
}

// endUsersTimeout bounds the store calls that end the sessions and grants
// of the users a reload removed or gave a new password.
const endUsersTimeout = 30 * time.Second

// localUsers loads the users files of cfg and watches them until ctx ends;
// each reload of the files ends the sessions and refresh families of the
// users who are gone or whose password hash changed (endUsers). It also
// returns the users that this config ends compared with the generation
// serving now (a config reload that points users.file elsewhere, or drops
// it): the caller passes them to endUsers once the generation is sure to
// be swapped in.
func (s *server) localUsers(ctx context.Context, cfg *config.Config) (localUsers, []string, error) {
	var prev *users.Directory
	if old := s.current.Load(); old != nil {
		prev = directoryOf(old.users)
	}
	if cfg.Users.File == "" && cfg.Users.HtpasswdFile == "" {
		empty := &users.Directory{}
		return empty, users.Ended(prev, empty), nil
	}
	w, err := users.NewWatcher(cfg.Users.File, cfg.Users.HtpasswdFile, s.log)
	if err != nil {
		return nil, nil, fmt.Errorf("users: %w", err)
	}
	w.OnReload = func(old, cur *users.Directory) { s.endUsers(users.Ended(old, cur)) }
	go func() { _ = w.Run(ctx) }()
	return w, users.Ended(prev, w.Directory()), nil
}

func directoryOf(u localUsers) *users.Directory {
	switch d := u.(type) {
	case *users.Watcher:
		return d.Directory()
	case *users.Directory:
		return d
	}
	return nil
}

// endUsers makes the users files the truth on every replica for users who
// are gone from them or whose password hash changed: each is revoked as a
// subject (revoked:sub, published: every replica refuses their sessions,
// refresh families and access tokens issued until now, at once, even one
// that has not reloaded its users files yet) and their sessions are deleted
// from the store. This replica already refuses them through the lookup on
// each request. The store calls run in the background; one audit line per
// user names only the user.
func (s *server) endUsers(names []string) {
	if len(names) == 0 {
		return
	}
	at := time.Now() // the change took effect here: what was signed in until now ends
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), endUsersTimeout)
		defer cancel()
		for _, name := range names {
			s.endUser(ctx, name, at)
		}
	}()
}

func (s *server) endUser(ctx context.Context, name string, at time.Time) {
	log := s.log.With("event", "revocation", "kind", "users_file", "user", name)
	if err := s.store.RevokeSubject(ctx, name, at); err != nil {
		log.Error("users files changed: could not revoke the user's sessions and tokens on every replica; "+
			"this replica refuses them, others once they reload", "error", err.Error())
		return
	}
	s.m.Revocations.WithLabelValues("subject").Inc()
	n, err := s.store.DeleteUserSessions(ctx, name)
	if err != nil {
		log.Warn("users files changed: the user is revoked, but their sessions could not be deleted from the store",
			"error", err.Error())
	}
	s.m.Revocations.WithLabelValues("session").Add(float64(n))
	log.Info("users files changed: user removed or password changed; their sessions and refresh grants are ended",
		"sessions_deleted", n)
	s.auditor().Audit(ctx, auth.AuditEvent{Kind: auth.AuditRevocation, User: name, Actor: "users-file",
		Detail: fmt.Sprintf("user removed or password changed in the users files: tokens revoked, %d sessions ended", n)})
}
