package jwtauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// Token types (the JOSE header typ, RFC 8725 §3.11). A Verifier in Bearer
// mode (Options.Type empty) accepts only access tokens; an assertion is
// never a Bearer token.
const (
	// TypeAccess is the typ of Gatehouse's access tokens (RFC 9068).
	TypeAccess = "at+jwt"
	// TypeAssertion is the typ of Gatehouse's identity assertions.
	TypeAssertion = "gh-assertion+jwt"
)

// normalType lower-cases typ and drops an "application/" prefix, as RFC
// 7515 §4.1.9 allows senders to write either form.
func normalType(typ string) string {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/")
}

// typeAccepted reports whether a token of header typ (present or not) may
// be verified by a Verifier that wants the type want ("" for Bearer mode:
// no typ, "JWT" or "at+jwt").
func typeAccepted(typ string, present bool, want string) bool {
	if want != "" {
		return present && normalType(typ) == normalType(want)
	}
	if !present {
		return true
	}
	switch normalType(typ) {
	case "jwt", TypeAccess:
		return true
	}
	return false
}

// errDuplicate is returned by checkUnique for a repeated member name.
var errDuplicate = errors.New("duplicate member name")

// checkUnique walks a JSON text and fails when any object, at any depth,
// repeats a member name (after unescaping: "a" and "\u0061" are the same
// name). encoding/json and jwx would silently keep the last one.
func checkUnique(raw []byte) error {
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]struct{}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers stay text: no float parsing in this pass
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top >= 0 && stack[top].object {
					stack[top].wantKey = true // this value ends the member
				}
				stack = append(stack, frame{object: d == '{', wantKey: d == '{'})
			default:
				stack = stack[:top]
			}
			continue
		}
		if top < 0 || !stack[top].object {
			continue
		}
		f := &stack[top]
		if !f.wantKey {
			f.wantKey = true // a scalar value ends the member
			continue
		}
		name, _ := tok.(string)
		if _, dup := f.keys[name]; dup {
			return errDuplicate
		}
		if f.keys == nil {
			f.keys = make(map[string]struct{})
		}
		f.keys[name] = struct{}{}
		f.wantKey = false
	}
}

// exactValue reports whether s may be forwarded as a user, email or group:
// valid UTF-8, no leading or trailing white space, and only printable
// characters (no C0/C1 controls, U+0085, U+2028, U+2029, format or private
// characters; U+0020 is the only space allowed, and only inside).
func exactValue(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

// checkExact refuses an identity whose subject, user, email or groups are
// not exactValue.
func checkExact(id *auth.Identity) error {
	switch {
	case !exactValue(id.Subject):
		return invalid("subject claim has white space or control characters")
	case !exactValue(id.User):
		return invalid("user claim has white space or control characters")
	case !exactValue(id.Email):
		return invalid("email claim has white space or control characters")
	}
	for _, g := range id.Groups {
		if !exactValue(g) {
			return invalid("groups claim has white space or control characters")
		}
	}
	return nil
}

// emailUnverified reports whether the member email_verified beside the
// email claim at path (in the same object) is false (or "false").
func emailUnverified(claims map[string]any, path string) bool {
	sibling := "email_verified"
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		if _, direct := claims[path]; !direct {
			sibling = path[:i+1] + sibling
		}
	}
	v, _ := auth.LookupClaim(claims, sibling)
	switch v := v.(type) {
	case bool:
		return !v
	case string:
		return strings.EqualFold(v, "false")
	}
	return false
}

// deleteClaim removes the value LookupClaim would find at path.
func deleteClaim(claims map[string]any, path string) {
	if _, ok := claims[path]; ok {
		delete(claims, path)
		return
	}
	head, rest, found := strings.Cut(path, ".")
	if !found {
		return
	}
	if next, ok := claims[head].(map[string]any); ok {
		deleteClaim(next, rest)
	}
}

// pruneClaims returns a new claim set holding only what LookupClaim finds
// at paths in claims, so that every such lookup answers as before.
func pruneClaims(claims map[string]any, paths []string) map[string]any {
	out := make(map[string]any, len(paths))
	for _, p := range paths {
		keepClaim(claims, out, p)
	}
	return out
}

func keepClaim(src, dst map[string]any, path string) {
	if v, ok := src[path]; ok {
		dst[path] = v
		return
	}
	head, rest, found := strings.Cut(path, ".")
	if !found {
		return
	}
	next, ok := src[head].(map[string]any)
	if !ok {
		return
	}
	d, ok := dst[head].(map[string]any)
	if !ok {
		d = make(map[string]any)
		dst[head] = d
	}
	// When dst[head] is src's own subtree (its whole path was kept), this
	// writes each value over itself: no change.
	keepClaim(next, d, rest)
}
