package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

// claimFlags collects repeated -claim k=v flags.
type claimFlags map[string]any

func (c claimFlags) String() string { return fmt.Sprint(map[string]any(c)) }

// Set parses k=v; a value that parses as JSON is used as JSON, else as a string.
func (c claimFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want k=v, got %q", s)
	}
	var j any
	if err := json.Unmarshal([]byte(v), &j); err == nil {
		c[k] = j
	} else {
		c[k] = v
	}
	return nil
}

func tokenCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", stderr)
	path := configFlag(fs)
	sub := fs.String("sub", "", "subject (`USER`) of the token; required")
	ttl := fs.Duration("ttl", 0, "lifetime (default jwt.issue.access_ttl)")
	claims := claimFlags{}
	fs.Var(claims, "claim", "extra claim `k=v` (repeatable; JSON values allowed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *sub == "" {
		fmt.Fprintln(stderr, "gatehouse token: -config FILE and -sub USER are required")
		return errReported
	}
	cfg, mat, err := loadConfig(*path)
	if err != nil {
		printProblems(stderr, err)
		return errReported
	}
	if mat.signer == nil {
		fmt.Fprintln(stderr, "gatehouse token: jwt.issue.signing_key_file is not set; there is no key to sign with")
		return errReported
	}
	if *ttl <= 0 {
		*ttl = cfg.JWT.Issue.AccessTTL
	}
	tok, _, _, err := mat.signer.Mint(jwtauth.Claims{
		Issuer: cfg.JWT.Issue.Issuer, Audience: cfg.JWT.Issue.Audience, Subject: *sub,
		TTL: *ttl, Extra: claims, Now: time.Now(),
	})
	if err != nil {
		return fmt.Errorf("mint token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
