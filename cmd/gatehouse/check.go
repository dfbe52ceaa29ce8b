package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/config"
)

// checkCmd validates the config and reads every file it names (and parses
// every key, users file and htpasswd file), printing every problem with its
// key path: decode, validation and file problems together. It does no
// network I/O. With -skip-files it reads no file but the config.
func checkCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	path := configFlag(fs)
	skipFiles := fs.Bool("skip-files", false, "check the config alone, without reading the files it names (for CI, where secrets are absent)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "gatehouse check: -config FILE (or GATEHOUSE_CONFIG) is required")
		return errReported
	}
	var warnings []string
	var err error
	if *skipFiles {
		_, err = config.Load(*path, environ())
	} else {
		var mat *material
		if _, mat, err = loadConfig(*path); mat != nil {
			warnings = mat.warnings
		}
	}
	if err != nil {
		printProblems(stderr, err)
		return errReported
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: OK\n", *path)
	return nil
}

// loadConfig loads, validates and checks every named file, and reads and
// parses the keys and users once, so that `check`, `serve`, a reload and
// `token` refuse the same configs. It reports every problem at once: those
// of the config itself, the files that cannot be read, and the files that
// cannot be parsed (unless that file, or its key, was already reported).
func loadConfig(path string) (*config.Config, *material, error) {
	cfg, err := config.Load(path, environ())
	if cfg == nil {
		return nil, nil, err // the file cannot be read or is not YAML
	}
	ferr := cfg.CheckFiles()
	mat, merr := loadMaterial(cfg)
	all := []error{err, ferr}
	reported := config.FieldErrors(errors.Join(err, ferr))
	for _, fe := range config.FieldErrors(merr) {
		if !related(fe.Path, reported) {
			all = append(all, fe)
		}
	}
	if err := errors.Join(all...); err != nil {
		return nil, nil, err
	}
	return cfg, mat, nil
}

// related reports whether path is the path of one of errs, or above or
// below one ("users" and "users.file", "jwt.issuers" and
// "jwt.issuers[0].audiences"): a problem found while parsing a file is
// left out when the file, or the key, has a problem reported already.
func related(path string, errs []*config.FieldError) bool {
	for _, e := range errs {
		if e.Path != "" && (below(path, e.Path) || below(e.Path, path)) {
			return true
		}
	}
	return false
}

// below reports whether key path p is q or inside it.
func below(p, q string) bool {
	rest, ok := strings.CutPrefix(p, q)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

// printProblems prints every problem; errors.Join puts each on its own line.
func printProblems(w io.Writer, err error) {
	fmt.Fprintln(w, err)
}
