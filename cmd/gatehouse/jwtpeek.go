package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// maxJWTBytes bounds the token `gatehouse revoke -jwt` reads: the admin
// API takes request bodies up to 64 KiB.
const maxJWTBytes = 60 << 10

// readJWT reads a token from the file path, or from stdin when path is
// "-", with one trailing newline (or CRLF) dropped. Its errors never hold
// the token.
func readJWT(path string, stdin io.Reader) (string, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	} else if r == nil {
		return "", errors.New("stdin is closed")
	}
	b, err := io.ReadAll(io.LimitReader(r, maxJWTBytes+1))
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	if len(b) > maxJWTBytes {
		return "", fmt.Errorf("the token is longer than %d KiB", maxJWTBytes>>10)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", errors.New("no token: the input is empty")
	}
	return string(b), nil
}

// jwtPeek is what `gatehouse revoke -jwt` reads from a token before
// sending it: its jti and exp.
type jwtPeek struct {
	jti string
	exp time.Time
}

// peekJWT reads the jti and exp claims of a compact JWS without verifying
// its signature: the admin API verifies the token it is sent. Reading them
// here lets the command refuse, with a clear message, a token that cannot
// be revoked by its jti, and say what it revoked. Its errors never hold
// the token.
func peekJWT(tok string) (jwtPeek, error) {
	parts := strings.Split(tok, ".")
	switch {
	case len(parts) == 5:
		return jwtPeek{}, errors.New("an encrypted token (JWE) cannot be read; give -jti ID -exp UNIX")
	case len(parts) != 3 || parts[1] == "":
		return jwtPeek{}, errors.New("not a JWT (want three base64url parts separated by dots)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return jwtPeek{}, errors.New("not a JWT: its payload is not base64url")
	}
	var claims struct {
		JTI *json.RawMessage `json:"jti"`
		Exp *json.RawMessage `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return jwtPeek{}, errors.New("not a JWT: its payload is not a JSON object")
	}
	var p jwtPeek
	if claims.JTI == nil || json.Unmarshal(*claims.JTI, &p.jti) != nil || p.jti == "" {
		return jwtPeek{}, errors.New("the token has no jti (token ID) claim, so it cannot be revoked alone; revoke its subject with -subject SUB")
	}
	if claims.Exp == nil {
		return jwtPeek{}, errors.New("the token has no exp (expiry) claim, and a jti is revoked until its exp; revoke its subject with -subject SUB")
	}
	var exp float64
	if json.Unmarshal(*claims.Exp, &exp) != nil || exp <= 0 || exp > auth.MaxUnix {
		return jwtPeek{}, errors.New("the token's exp claim is not a time in UNIX seconds")
	}
	p.exp = time.Unix(int64(exp), 0)
	return p, nil
}

// clipQuote quotes s for a terminal (control characters escaped), clipped
// to 80 bytes.
func clipQuote(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:80]) + "…"
	}
	return strconv.Quote(s)
}
