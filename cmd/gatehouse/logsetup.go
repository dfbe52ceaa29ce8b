package main

import (
	"io"
	"log/slog"

	"github.com/gatehouse-proxy/gatehouse/config"
)

// newLogger builds the process logger from log.format (fixed at start) and
// log.level, which it reads through level so that a reload can change it
// (see applyLogLevel).
func newLogger(w io.Writer, c config.Log, level *slog.LevelVar) *slog.Logger {
	level.Set(logLevel(c.Level))
	o := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

// logLevel maps a validated log.level to its slog level.
func logLevel(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// applyLogLevel makes a reloaded log.level take effect at once.
func (s *server) applyLogLevel(cfg *config.Config) {
	if s.logLevel != nil {
		s.logLevel.Set(logLevel(cfg.Log.Level))
	}
}
