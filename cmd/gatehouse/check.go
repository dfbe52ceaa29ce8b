package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gatehouse-proxy/gatehouse/config"
)

// checkCmd validates the config and reads every file it names (and parses
// every key, users file and htpasswd file), printing every problem with its
// key path. It does no network I/O.
func checkCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "gatehouse check: -config FILE (or GATEHOUSE_CONFIG) is required")
		return errReported
	}
	_, mat, err := loadConfig(*path)
	if err != nil {
		printProblems(stderr, err)
		return errReported
	}
	for _, w := range mat.warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: OK\n", *path)
	return nil
}

// loadConfig loads, validates and checks every named file, and reads and
// parses the keys and users once, so that `check`, `serve`, a reload and
// `token` refuse the same configs.
func loadConfig(path string) (*config.Config, *material, error) {
	cfg, err := config.Load(path, environ())
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.CheckFiles(); err != nil {
		return nil, nil, err
	}
	mat, err := loadMaterial(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, mat, nil
}

// printProblems prints every problem; errors.Join puts each on its own line.
func printProblems(w io.Writer, err error) {
	fmt.Fprintln(w, err)
}
