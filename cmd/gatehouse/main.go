// Command gatehouse is the authenticating reverse proxy and its helper
// commands (README: Commands). main only chooses the exit code; everything
// else happens in run, which tests call directly.
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

// command is one verb of the gatehouse binary.
type command struct {
	name     string
	synopsis string // what follows "gatehouse " in the usage line: the verb and its flags
	summary  string // one line for the table of verbs
	help     string // what -h prints between the usage line and the flags
	run      func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "serve -config FILE", "run the proxy",
			"Run the proxy and the admin listener with the config in FILE (or\n" +
				"$GATEHOUSE_CONFIG). SIGHUP or a change of the file reloads it;\n" +
				"SIGTERM or SIGINT drains and stops.", serveCmd},
		{"check", "check -config FILE [-skip-files]", "validate a config and the files it names",
			"Validate the config and read every file it names (keys, users files,\n" +
				"templates), without network I/O. Print every problem with its key\n" +
				"path and exit 1 on any; print \"FILE: OK\" otherwise.", checkCmd},
		{"hash-password", "hash-password", "print a bcrypt hash of a password for the users file",
			"Read a password and print its bcrypt hash for the users file. On a\n" +
				"terminal it asks twice without echo; from a pipe it reads stdin\n" +
				"silently, one trailing newline dropped. An empty password or one over\n" +
				"72 bytes is refused.", hashPasswordCmd},
		{"token", "token -config FILE -sub USER [-ttl 5m] [-claim k=v ...]", "mint an access JWT with the configured issuing key",
			"Mint an access JWT signed with jwt.issue.signing_key_file, for tests and\n" +
				"scripts, and print it. iss, aud, iat, exp and jti are set by the\n" +
				"command; -claim adds others.", tokenCmd},
		{"revoke", "revoke -admin URL -token-file F (-jti ID -exp UNIX | -subject SUB | -jwt FILE)", "revoke a token or a subject through the admin API",
			"Revoke through the admin API (POST /admin/revoke): one token by its jti\n" +
				"and exp, or the token itself with -jwt (the server verifies it with the\n" +
				"configured keys and revokes its jti until its exp), or everything a\n" +
				"subject holds now (tokens, refresh grants and sessions).", revokeCmd},
		{"sessions", "sessions -admin URL -token-file F -user USER [-delete]", "list or end a user's sessions",
			"List a user's sessions through the admin API (every page), or with\n" +
				"-delete end them all: a forced logout on every replica.", sessionsCmd},
		{"demo-upstream", "demo-upstream -listen ADDR", "run an app that echoes the requests it receives",
			"Run a tiny app that answers every request with its method, path and\n" +
				"headers as JSON (for the demo and tests).", demoUpstreamCmd},
		{"version", "version", "print version, commit and Go version",
			"Print the version, the commit it was built from and the Go version.", versionCmd},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 2 && args[0] == "help" { // gatehouse help COMMAND: its -h
		args = []string{args[1], "-h"}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errReported
		}
		return nil
	}
	c, ok := lookupCommand(args[0])
	if !ok {
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n", args[0])
		usage(stderr)
		return errReported
	}
	err := c.run(ctx, args[1:], stdin, stdout, stderr)
	if err != nil && !errors.Is(err, errReported) && !errors.Is(err, flag.ErrHelp) {
		// Print it here, once, naming the command; main only sets the exit code.
		fmt.Fprintf(stderr, "gatehouse %s: %v\n", c.name, err)
		return fmt.Errorf("%w: %w", errReported, err)
	}
	return err
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage prints the table of commands, their descriptions aligned.
func usage(w io.Writer) {
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	fmt.Fprint(w, "Gatehouse: an authenticating reverse proxy.\n\nUsage: gatehouse COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s   %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'gatehouse COMMAND -h' for a command's flags.")
}

// printCommandHelp prints c's usage line, its description and the flags of
// fs, if it has any.
func printCommandHelp(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: gatehouse %s\n\n%s\n", c.synopsis, c.help)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// flagSet is the flag set of one command. Parse prints -h's help (the
// usage line, the description and every flag) and returns flag.ErrHelp; it
// prints a bad flag or a stray argument once ("gatehouse token: …" and a
// pointer to -h) and returns errReported.
type flagSet struct {
	*flag.FlagSet
	cmd    command
	stderr io.Writer
}

// newFlagSet returns the flag set of the command name, printing to stderr.
func newFlagSet(name string, stderr io.Writer) *flagSet {
	c, _ := lookupCommand(name)
	fs := &flagSet{FlagSet: flag.NewFlagSet("gatehouse "+name, flag.ContinueOnError), cmd: c, stderr: stderr}
	fs.SetOutput(io.Discard) // Parse prints; the flag package would print errors and usage twice
	fs.Usage = func() {}
	return fs
}

func (fs *flagSet) Parse(args []string) error {
	err := fs.FlagSet.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printCommandHelp(fs.stderr, fs.cmd, fs.FlagSet)
		return flag.ErrHelp
	case err == nil && fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q (%s takes flags only)", fs.Arg(0), fs.cmd.name)
	}
	if err != nil {
		fmt.Fprintf(fs.stderr, "gatehouse %s: %v\nRun 'gatehouse %s -h' for its usage.\n", fs.cmd.name, err, fs.cmd.name)
		return errReported
	}
	return nil
}

func versionCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if err := newFlagSet("version", stderr).Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "gatehouse %s (commit %s, %s)\n", version, commit, runtime.Version())
	return nil
}

// configFlag adds -config, defaulting to $GATEHOUSE_CONFIG.
func configFlag(fs *flagSet) *string {
	return fs.String("config", os.Getenv("GATEHOUSE_CONFIG"), "the config `FILE` (YAML); default $GATEHOUSE_CONFIG")
}
