package config

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one problem with one configuration key. Path is the key path
// as written in the file (for example "routes[2].auth"); Problem says what is
// wrong and what would be valid. Problems never contain a secret's content:
// the config holds only the names of secret files.
type FieldError struct {
	Path    string
	Problem string
}

// Error returns Path + ": " + Problem, or only Problem when Path is empty.
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Problem
	}
	return e.Path + ": " + e.Problem
}

// FieldErrors returns every *FieldError in err, which may be one FieldError
// or the errors.Join of several (as returned by Load, Validate and
// CheckFiles). It returns nil for a nil err.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	walkErrors(err, func(e error) bool {
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return true
		}
		return false
	})
	return out
}

// walkErrors calls visit on err and, unless visit returns true, on every
// error it wraps, depth first.
func walkErrors(err error, visit func(error) bool) {
	if err == nil || visit(err) {
		return
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, visit)
		}
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), visit)
	}
}

// problems collects FieldErrors in the order they are found.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &FieldError{Path: path, Problem: fmt.Sprintf(format, args...)})
}

func (p problems) err() error { return errors.Join(p...) }

// oneOf formats a set of valid choices: "none, session, jwt, any".
func oneOf(choices ...string) string { return strings.Join(choices, ", ") }
