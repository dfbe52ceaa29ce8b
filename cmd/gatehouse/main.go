// Command gatehouse is the authenticating reverse proxy and its helper
// commands (PRODUCT.md §1). main only chooses the exit code; everything else
// happens in run, which tests call directly.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
)

// versionFile is the release's semantic version (tag vMAJOR.MINOR.PATCH); the
// Makefile, the image and the manifests read the same file.
//
//go:embed VERSION
var versionFile string

// commit is stamped at build time with -ldflags "-X main.commit=...".
// version is always versionFile: -X cannot override a variable with a
// computed initializer, so every build reports the file's version.
var (
	version = strings.TrimSpace(versionFile)
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errReported):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

// errReported means the command already printed its problems.
var errReported = errors.New("problems reported")

type command struct {
	name, usage, help string
	run               func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "serve -config FILE", "run the proxy (FILE may also come from GATEHOUSE_CONFIG)", serveCmd},
		{"check", "check -config FILE", "validate the config and read every file it names, without network I/O", checkCmd},
		{"hash-password", "hash-password", "read a password on stdin, print a bcrypt hash for the users file", hashPasswordCmd},
		{"token", "token -config FILE -sub USER [-ttl 5m] [-claim k=v ...]", "mint an access JWT with the configured issuing key", tokenCmd},
		{"revoke", "revoke -admin URL -token-file F (-jti ID -exp UNIX | -subject SUB)", "revoke a token or a subject through the admin API", revokeCmd},
		{"sessions", "sessions -admin URL -token-file F -user USER [-delete]", "list or force-log-out a user's sessions", sessionsCmd},
		{"demo-upstream", "demo-upstream -listen ADDR", "a tiny app that echoes the requests it receives as JSON", demoUpstreamCmd},
		{"version", "version", "print version, commit and Go version", versionCmd},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errReported
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n", args[0])
	usage(stderr)
	return errReported
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Gatehouse: an authenticating reverse proxy.\n\nUsage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  gatehouse %-62s %s\n", c.usage, c.help)
	}
	fmt.Fprintln(w, "\nRun 'gatehouse COMMAND -h' for a command's flags.")
}

// newFlagSet returns a flag set that prints its usage to stderr and returns
// errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gatehouse "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func versionCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if err := newFlagSet("version", stderr).Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "gatehouse %s (commit %s, %s)\n", version, commit, runtime.Version())
	return nil
}

// configFlag adds -config, defaulting to $GATEHOUSE_CONFIG.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", os.Getenv("GATEHOUSE_CONFIG"), "config `FILE` (default $GATEHOUSE_CONFIG)")
}
