package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/gatehouse-proxy/gatehouse/auth/users"
)

// hashPasswordCmd prints the bcrypt hash of one password for the users
// file. On a terminal it prompts twice (on stderr, without echo); from a
// pipe it reads stdin silently, one trailing newline dropped. An empty
// password or one over 72 bytes (users.MaxPasswordBytes: bcrypt would
// ignore the rest) is refused.
func hashPasswordCmd(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := newFlagSet("hash-password", stderr).Parse(args); err != nil {
		return err
	}
	var pw []byte
	var err error
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pw, err = promptTwice(func() ([]byte, error) { return term.ReadPassword(int(f.Fd())) }, stderr)
	} else {
		pw, err = readPipedPassword(stdin)
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse hash-password:", err)
		return errReported
	}
	h, err := users.HashPassword(pw)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, h)
	return nil
}

// readPipedPassword reads a password from a pipe or file: everything up to
// EOF, one trailing newline (or CRLF) dropped.
func readPipedPassword(r io.Reader) ([]byte, error) {
	pw, err := io.ReadAll(io.LimitReader(r, 1024))
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	pw = bytes.TrimSuffix(pw, []byte("\n"))
	pw = bytes.TrimSuffix(pw, []byte("\r"))
	return pw, checkNewPassword(pw, "on stdin")
}

// promptTwice asks for the password and its confirmation with read (which
// does not echo), prompting on w.
func promptTwice(read func() ([]byte, error), w io.Writer) ([]byte, error) {
	fmt.Fprint(w, "Password: ")
	pw, err := read()
	fmt.Fprintln(w)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if err := checkNewPassword(pw, ""); err != nil {
		return nil, err
	}
	fmt.Fprint(w, "Again: ")
	again, err := read()
	fmt.Fprintln(w)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if !bytes.Equal(pw, again) {
		return nil, errors.New("the passwords differ")
	}
	return pw, nil
}

func checkNewPassword(pw []byte, where string) error {
	switch {
	case len(pw) == 0:
		if where != "" {
			return fmt.Errorf("empty password %s", where)
		}
		return errors.New("empty password")
	case len(pw) > users.MaxPasswordBytes:
		return fmt.Errorf("the password has %d bytes; bcrypt uses at most %d, so use a shorter one", len(pw), users.MaxPasswordBytes)
	}
	return nil
}
