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
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/config"
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

func revokeCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("revoke", stderr)
	adminURL := fs.String("admin", "", "admin listener `URL`, e.g. http://127.0.0.1:9090")
	tokenFile := fs.String("token-file", "", "`F`ile holding the admin token")
	jti := fs.String("jti", "", "revoke the token with this `ID` (needs -exp)")
	exp := fs.Int64("exp", 0, "the token's expiry, `UNIX` seconds")
	subject := fs.String("subject", "", "revoke every token and session of this `SUB` issued until now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*jti == "") == (*subject == "") || (*jti != "" && *exp == 0) {
		fmt.Fprintln(stderr, "gatehouse revoke: give either -jti ID -exp UNIX or -subject SUB")
		return errReported
	}
	c, err := newAdminClient(*adminURL, *tokenFile)
	if err != nil {
		return err
	}
	body := map[string]any{"subject": *subject}
	if *jti != "" {
		body = map[string]any{"jti": *jti, "exp": *exp}
	}
	var out struct {
		Revoked string `json:"revoked"`
	}
	if err := c.call(ctx, http.MethodPost, "/admin/revoke", body, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %s\n", out.Revoked)
	return nil
}

func sessionsCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("sessions", stderr)
	adminURL := fs.String("admin", "", "admin listener `URL`, e.g. http://127.0.0.1:9090")
	tokenFile := fs.String("token-file", "", "`F`ile holding the admin token")
	user := fs.String("user", "", "the `USER` whose sessions to list")
	del := fs.Bool("delete", false, "log the user out everywhere (delete every session)")
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
		fmt.Fprintf(stdout, "deleted %d sessions of %s\n", out.Deleted, *user)
		return nil
	}
	fmt.Fprintf(stdout, "%-44s %-20s %-20s %-16s %s\n", "ID", "CREATED", "LAST SEEN", "IP", "USER AGENT")
	return listSessionPages(ctx, c, path, stdout)
}

// maxCLIPages bounds how many pages `gatehouse sessions` follows.
const maxCLIPages = 1000

// listSessionPages prints every page of GET path, following "next".
func listSessionPages(ctx context.Context, c *adminClient, path string, stdout io.Writer) error {
	cursor := ""
	for range maxCLIPages {
		var out struct {
			Sessions []struct {
				ID        string `json:"id"`
				User      string `json:"user"`
				Created   int64  `json:"created"`
				LastSeen  int64  `json:"last_seen"`
				IP        string `json:"ip"`
				UserAgent string `json:"user_agent"`
			} `json:"sessions"`
			Next string `json:"next"`
		}
		page := path + "&limit=200"
		if cursor != "" {
			page += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := c.call(ctx, http.MethodGet, page, nil, &out); err != nil {
			return err
		}
		for _, s := range out.Sessions {
			fmt.Fprintf(stdout, "%-44s %-20s %-20s %-16s %s\n", s.ID, unixTime(s.Created), unixTime(s.LastSeen), s.IP, s.UserAgent)
		}
		if out.Next == "" {
			return nil
		}
		cursor = out.Next
	}
	fmt.Fprintf(stdout, "(more sessions not shown after %d pages)\n", maxCLIPages)
	return nil
}

func unixTime(sec int64) string { return time.Unix(sec, 0).UTC().Format("2006-01-02 15:04:05") }
