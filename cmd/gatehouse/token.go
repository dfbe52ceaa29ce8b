package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

// claimFlags collects repeated -claim k=v flags.
type claimFlags map[string]any

func (c claimFlags) String() string { return fmt.Sprint(map[string]any(c)) }

// registeredClaims are the claims `gatehouse token` sets itself, with
// where each comes from: -claim may not set them.
var registeredClaims = map[string]string{
	"sub": "sub is set with -sub",
	"iss": "iss is jwt.issue.issuer of the config",
	"aud": "aud is jwt.issue.audience of the config",
	"exp": "exp is set with -ttl",
	"iat": "iat is the time of minting",
	"jti": "jti is random, one per token",
}

// Set parses k=v; a value that parses as JSON is used as JSON, else as a
// string. The claims the command sets itself, and a claim given twice,
// are refused.
func (c claimFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want k=v")
	}
	if why, ok := registeredClaims[k]; ok {
		return errors.New(why)
	}
	if _, ok := c[k]; ok {
		return fmt.Errorf("claim %q is given twice", k)
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
	sub := fs.String("sub", "", "the token's subject (sub claim), the `USER` it identifies; required")
	ttl := fs.Duration("ttl", 0, "the token's lifetime, at least 1s, e.g. 15m or 2h (default jwt.issue.access_ttl)")
	claims := claimFlags{}
	fs.Var(claims, "claim", "add the claim `k=v`; v is used as JSON if it parses as JSON (groups='[\"staff\"]'), else as a string. Repeatable. sub, iss, aud, exp, iat and jti are set by the command")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *sub == "" {
		fmt.Fprintln(stderr, "gatehouse token: -config FILE and -sub USER are required")
		return errReported
	}
	ttlSet := false
	fs.Visit(func(f *flag.Flag) { ttlSet = ttlSet || f.Name == "ttl" })
	if ttlSet && *ttl < time.Second {
		fmt.Fprintf(stderr, "gatehouse token: -ttl %s: want a lifetime of at least 1s, e.g. 15m (or leave -ttl out for jwt.issue.access_ttl)\n", *ttl)
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
	if !ttlSet {
		*ttl = cfg.JWT.Issue.AccessTTL
	}
	if limit := cfg.JWT.MaxLifetime; limit > 0 && *ttl > limit {
		fmt.Fprintf(stderr, "gatehouse token: -ttl %s is longer than jwt.max_lifetime %s: Gatehouse would refuse the token; give at most -ttl %s\n", *ttl, limit, limit)
		return errReported
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
