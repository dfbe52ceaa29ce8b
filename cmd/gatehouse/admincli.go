package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/proxy/admin"
)

// adminClient calls the admin API with the bearer token from a file.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func newAdminClient(base, tokenFile string) (*adminClient, error) {
	if base == "" || tokenFile == "" {
		return nil, errors.New("-admin URL and -token-file F are required")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-admin %q: want a URL such as http://127.0.0.1:9090", base)
	}
	tok, err := config.ReadSecretFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("-token-file: %w", err)
	}
	return &adminClient{base: strings.TrimRight(base, "/"), token: string(tok), http: &http.Client{Timeout: 10 * time.Second}}, nil
}

// call sends a request and decodes a 2xx JSON answer into out; other
// statuses become errors carrying the server's error description.
func (c *adminClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct{ Error, ErrorDescription string }
		_ = json.Unmarshal(data, &struct {
			Error            *string `json:"error"`
			ErrorDescription *string `json:"error_description"`
		}{&e.Error, &e.ErrorDescription})
		return fmt.Errorf("%s %s: %s: %s %s", method, path, resp.Status, e.Error, e.ErrorDescription)
	}
	return json.Unmarshal(data, out)
}

func revokeCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("revoke", stderr)
	adminURL, tokenFile := adminFlags(fs)
	jti := fs.String("jti", "", "revoke the token with this token `ID` (its jti claim) until -exp")
	exp := fs.Int64("exp", 0, "with -jti: the token's expiry (its exp claim), `UNIX` seconds")
	subject := fs.String("subject", "", "revoke every token, refresh grant and session that `SUB` holds now")
	jwtFile := fs.String("jwt", "", "revoke the token in `FILE` (- for stdin; one trailing newline dropped): the admin API verifies it with the configured keys and revokes its jti until its exp")
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := 0
	for _, v := range []string{*jti, *subject, *jwtFile} {
		if v != "" {
			given++
		}
	}
	if given != 1 || (*jti != "" && *exp == 0) || (*jti == "" && *exp != 0) {
		fmt.Fprintln(stderr, "gatehouse revoke: give one of -jti ID -exp UNIX, -subject SUB or -jwt FILE")
		return errReported
	}
	var body map[string]any
	var peeked jwtPeek
	switch {
	case *jti != "":
		body = map[string]any{"jti": *jti, "exp": *exp}
	case *subject != "":
		body = map[string]any{"subject": *subject}
	default:
		tok, err := readJWT(*jwtFile, stdin)
		if err == nil {
			peeked, err = peekJWT(tok)
		}
		if err != nil {
			return fmt.Errorf("-jwt %s: %w", *jwtFile, err)
		}
		body = map[string]any{"token": tok}
	}
	c, err := newAdminClient(*adminURL, *tokenFile)
	if err != nil {
		return err
	}
	var out struct {
		Revoked string `json:"revoked"`
	}
	if err := c.call(ctx, http.MethodPost, "/admin/revoke", body, &out); err != nil {
		return err
	}
	if *jwtFile != "" && out.Revoked == "jti" {
		fmt.Fprintf(stdout, "revoked jti %s until %s\n", clipQuote(peeked.jti), peeked.exp.UTC().Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(stdout, "revoked %s\n", out.Revoked)
	return nil
}

// adminFlags adds -admin and -token-file.
func adminFlags(fs *flagSet) (adminURL, tokenFile *string) {
	return fs.String("admin", "", "the admin listener's `URL` (admin.listen), e.g. http://127.0.0.1:9090; required"),
		fs.String("token-file", "", "read the admin API's bearer token (admin.token_file) from file `F`, so that it stays out of ps and shell history; required")
}

func sessionsCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("sessions", stderr)
	adminURL, tokenFile := adminFlags(fs)
	user := fs.String("user", "", "the `USER` (the username they sign in with) whose sessions to list or end; required")
	del := fs.Bool("delete", false, "instead of listing, end every session of the user on every replica (forced logout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" {
		fmt.Fprintln(stderr, "gatehouse sessions: -user USER is required")
		return errReported
	}
	c, err := newAdminClient(*adminURL, *tokenFile)
	if err != nil {
		return err
	}
	path := "/admin/sessions?user=" + url.QueryEscape(*user)
	if *del {
		var out struct {
			Deleted int `json:"deleted"`
		}
		if err := c.call(ctx, http.MethodDelete, path, nil, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %s of %s\n", sessionCount(out.Deleted), *user)
		return nil
	}
	n, err := listSessionPages(ctx, c, path, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s of %s\n", sessionCount(n), *user)
	return nil
}

// sessionCount is "1 session" or "N sessions".
func sessionCount(n int) string {
	if n == 1 {
		return "1 session"
	}
	return strconv.Itoa(n) + " sessions"
}

// maxCLIPages bounds how many pages `gatehouse sessions` follows.
const maxCLIPages = 1000

// sessionRow is the format of one line of `gatehouse sessions`.
const sessionRow = "%-44s  %-20s  %-20s  %-15s  %s\n"

// listSessionPages prints every page of GET path, following "next", as a
// table (with a header line when there is a session), and returns how
// many sessions it printed.
func listSessionPages(ctx context.Context, c *adminClient, path string, stdout io.Writer) (int, error) {
	cursor, n := "", 0
	for range maxCLIPages {
		var out admin.SessionList
		page := path + "&limit=200"
		if cursor != "" {
			page += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := c.call(ctx, http.MethodGet, page, nil, &out); err != nil {
			return n, err
		}
		for _, s := range out.Sessions {
			if n == 0 {
				fmt.Fprintf(stdout, sessionRow, "ID", "CREATED", "LAST SEEN", "IP", "USER AGENT")
			}
			n++
			fmt.Fprintf(stdout, sessionRow, s.ID, unixTime(s.Created), unixTime(s.LastSeen), s.IP, s.UserAgent)
		}
		if out.Next == "" {
			return n, nil
		}
		cursor = out.Next
	}
	fmt.Fprintf(stdout, "(more sessions not shown after %d pages)\n", maxCLIPages)
	return n, nil
}

// unixTime writes UNIX seconds in RFC 3339, in UTC: 2026-12-01T15:04:05Z.
func unixTime(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
