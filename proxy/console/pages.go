package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// page is the data of every console template.
type page struct {
	Style                    template.CSS
	Admin, CSRF, Nav         string
	Heading, Error, Notice   string
	Events                   []eventRow
	Active                   string
	Logins, Failures, Reuses string

	Query   string
	Kind    string
	Kinds   []string
	Matches []match

	User      string
	ActionURL string
	Sessions  []sessionRow
	More      bool

	Question, Confirm, Back string

	Token *tokenView
}

type eventRow struct {
	When, Kind, User, UserURL, Actor, IP, Detail string
}

type match struct{ Name, URL, Source string }

type sessionRow struct {
	ID, Created, LastSeen, IP, UserAgent, Provider string
}

type claim struct{ Name, Value string }

type tokenView struct {
	Valid, Revoked bool
	Problem        string
	Claims         []claim
	JTI, Subject   string
	Exp            int64
}

// maxUserName bounds a username taken from a URL or a search.
const maxUserName = 1024

// userURL is the console page of user (any characters, escaped).
func userURL(user string) string { return Prefix + "users/" + url.PathEscape(user) }

func (h *Handler) clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	now := h.o.Now().UTC()
	t = t.UTC()
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04:05 UTC")
	}
	return t.Format("2 Jan 2006 15:04 UTC")
}

func (h *Handler) rows(evs []auth.AuditEvent) []eventRow {
	out := make([]eventRow, 0, len(evs))
	for _, e := range evs {
		row := eventRow{When: h.clock(e.Time), Kind: e.Kind, User: e.User, Actor: e.Actor, IP: e.IP, Detail: e.Detail}
		if e.User != "" {
			row.UserURL = userURL(e.User)
		}
		out = append(out, row)
	}
	return out
}

// countSince counts the events of kind since t (at most auth.MaxAuditPage;
// shown as "1000+" beyond).
func (h *Handler) countSince(r *http.Request, kind string, t time.Time) (string, error) {
	evs, err := h.o.Store.ListAudit(r.Context(), auth.AuditFilter{Kind: kind, Since: t, Limit: auth.MaxAuditPage})
	if err != nil {
		return "", err
	}
	if len(evs) == auth.MaxAuditPage {
		return strconv.Itoa(auth.MaxAuditPage) + "+", nil
	}
	return strconv.Itoa(len(evs)), nil
}

// overview: active sessions, sign-ins, failures and reuses in the last
// hour, the latest events. One session count (a ZCOUNT on Redis, O(log N))
// and four audit reads.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	p := &page{Nav: "overview", Heading: "Overview"}
	hour := h.o.Now().Add(-time.Hour)
	active, err := h.o.Store.ActiveSessions(r.Context())
	if err == nil {
		p.Active = strconv.Itoa(active)
		if p.Logins, err = h.countSince(r, auth.AuditLogin, hour); err == nil {
			if p.Failures, err = h.countSince(r, auth.AuditLoginFailure, hour); err == nil {
				p.Reuses, err = h.countSince(r, auth.AuditRefreshReuse, hour)
			}
		}
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	evs, err := h.o.Store.ListAudit(r.Context(), auth.AuditFilter{Limit: 15})
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	p.Events = h.rows(evs)
	h.render(w, r, http.StatusOK, "overview", p)
}

// users: the search. Local users match by substring (in process, no
// store call); any name is offered as an exact match (IdP users).
func (h *Handler) users(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	p := &page{Nav: "users", Heading: "Users", Query: q}
	if len(q) > maxUserName {
		p.Error = fmt.Sprintf("A username has at most %d bytes.", maxUserName)
		p.Query = ""
		h.render(w, r, http.StatusBadRequest, "users", p)
		return
	}
	if q != "" {
		seen := false
		if h.o.Users != nil {
			names := h.o.Users()
			sort.Strings(names)
			lq := strings.ToLower(q)
			for _, n := range names {
				if strings.Contains(strings.ToLower(n), lq) {
					p.Matches = append(p.Matches, match{Name: n, URL: userURL(n), Source: "users file"})
					seen = seen || n == q
					if len(p.Matches) == 50 {
						break
					}
				}
			}
		}
		if !seen {
			p.Matches = append(p.Matches, match{Name: q, URL: userURL(q), Source: "exact name"})
		}
	}
	h.render(w, r, http.StatusOK, "users", p)
}

// pathUser is the {user} of the URL, or "" after answering 400.
func (h *Handler) pathUser(w http.ResponseWriter, r *http.Request) string {
	u := r.PathValue("user")
	if u == "" || len(u) > maxUserName {
		h.o.Pages.WriteError(w, r, http.StatusBadRequest, "invalid_request", fmt.Sprintf("A username has 1 to %d bytes.", maxUserName))
		return ""
	}
	return u
}

// user: the user's sessions (one page of up to 100) and latest events.
// Two store reads.
func (h *Handler) user(w http.ResponseWriter, r *http.Request) {
	u := h.pathUser(w, r)
	if u == "" {
		return
	}
	notice := map[string]string{
		"session":  "The session is ended.",
		"sessions": "All sessions of the user are ended.",
		"revoked":  "All tokens and sessions of the user are revoked.",
	}[r.URL.Query().Get("done")]
	h.userPage(w, r, u, http.StatusOK, notice, "")
}

func (h *Handler) userPage(w http.ResponseWriter, r *http.Request, u string, status int, notice, problem string) {
	p := &page{Nav: "users", Heading: "User " + u, User: u, ActionURL: userURL(u), Notice: notice, Error: problem}
	recs, next, err := h.o.Store.UserSessions(r.Context(), u, "", auth.DefaultSessionPage)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	slices.SortFunc(recs, func(a, b auth.SessionRecord) int { return b.LastSeen.Compare(a.LastSeen) })
	for _, rec := range recs {
		p.Sessions = append(p.Sessions, sessionRow{
			ID: session.HandleFor(rec.Key), Created: h.clock(rec.Created), LastSeen: h.clock(rec.LastSeen),
			IP: rec.IP, UserAgent: httpx.Clip(rec.UserAgent), Provider: providerName(rec.Provider),
		})
	}
	p.More = next != ""
	evs, err := h.o.Store.ListAudit(r.Context(), auth.AuditFilter{User: u, Limit: 20})
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	p.Events = h.rows(evs)
	h.render(w, r, status, "user", p)
}

func providerName(p string) string {
	if p == "" {
		return "password"
	}
	return p
}

// endSession: POST users/{user}/end-session, form id (the session's
// handle). Ending a session that is already gone is harmless.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	u := h.pathUser(w, r)
	if u == "" || !h.checkCSRF(w, r) {
		return
	}
	handle := r.PostFormValue("id")
	key, ok := session.KeyForHandle(handle)
	if !ok {
		h.userPage(w, r, u, http.StatusBadRequest, "", "No such session.")
		return
	}
	// The session must be this user's: an admin acts on the page shown.
	recs, _, err := h.o.Store.UserSessions(r.Context(), u, "", auth.MaxSessionPage)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if !slices.ContainsFunc(recs, func(s auth.SessionRecord) bool { return s.Key == key }) {
		h.userPage(w, r, u, http.StatusOK, "That session had already ended.", "")
		return
	}
	found, err := h.o.Store.DeleteSession(r.Context(), key)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if !found {
		h.userPage(w, r, u, http.StatusOK, "That session had already ended.", "")
		return
	}
	h.countRevocations("session", 1)
	h.record(r, u, "ended session "+handle)
	h.redirect(w, r, userURL(u)+"?done=session")
}

// confirmed shows the confirmation step of a destructive action, unless
// the form carries confirm=yes.
func (h *Handler) confirmed(w http.ResponseWriter, r *http.Request, u, action, heading, question, button string) bool {
	if r.PostFormValue("confirm") == "yes" {
		return true
	}
	h.render(w, r, http.StatusOK, "confirm", &page{
		Nav: "users", Heading: heading, Question: question, Confirm: button,
		ActionURL: userURL(u) + "/" + action, Back: userURL(u), CSRF: r.PostFormValue(csrfField),
	})
	return false
}

// endAll: forced logout of every session of the user, after confirmation.
func (h *Handler) endAll(w http.ResponseWriter, r *http.Request) {
	u := h.pathUser(w, r)
	if u == "" || !h.checkCSRF(w, r) {
		return
	}
	if !h.confirmed(w, r, u, "end-all", "End all sessions of "+u+"?",
		"Every browser session of "+u+" ends now, on every replica. They can sign in again.", "End all sessions") {
		return
	}
	n, err := h.o.Store.DeleteUserSessions(r.Context(), u)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.countRevocations("session", n)
	h.record(r, u, fmt.Sprintf("ended all sessions (%d)", n))
	h.redirect(w, r, userURL(u)+"?done=sessions")
}

// revokeAll: subject revocation (every token issued and session created
// until now), after confirmation.
func (h *Handler) revokeAll(w http.ResponseWriter, r *http.Request) {
	u := h.pathUser(w, r)
	if u == "" || !h.checkCSRF(w, r) {
		return
	}
	if !h.confirmed(w, r, u, "revoke-all", "Revoke all tokens of "+u+"?",
		"Every token issued to "+u+" and every session they have is refused from now on, on every replica. They can sign in again from the next second.", "Revoke all tokens") {
		return
	}
	if err := h.o.Store.RevokeSubject(r.Context(), u, h.o.Now()); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.countRevocations("subject", 1)
	h.record(r, u, "revoked all tokens and sessions (subject)")
	h.redirect(w, r, userURL(u)+"?done=revoked")
}

// redirect answers an action with 303 to the page showing its result
// (post/redirect/get: a reload does not repeat the action).
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, to string) {
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

// tokens: the paste form.
func (h *Handler) tokens(w http.ResponseWriter, r *http.Request) {
	p := &page{Nav: "tokens", Heading: "Tokens"}
	if r.URL.Query().Get("done") == "revoked" {
		p.Notice = "The token is revoked."
	}
	h.render(w, r, http.StatusOK, "tokens", p)
}

// maxToken bounds a pasted token.
const maxToken = 64 << 10

// checkToken: POST tokens, form token → verified with the configured
// keys (revocation aside), its claims shown.
func (h *Handler) checkToken(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	tv := &tokenView{}
	p := &page{Nav: "tokens", Heading: "Tokens", Token: tv}
	switch {
	case tok == "":
		tv.Problem = "Paste a token."
	case len(tok) > maxToken:
		tv.Problem = fmt.Sprintf("The token is longer than %d KiB.", maxToken>>10)
	case h.o.Tokens == nil:
		tv.Problem = "No token issuer is configured."
	default:
		id, err := h.o.Tokens.VerifyIgnoringRevocation(r.Context(), tok)
		if errors.Is(err, auth.ErrUnavailable) {
			h.unavailable(w, r, err)
			return
		}
		if err != nil || id == nil {
			tv.Problem = "Invalid: " + httpx.Clip(auth.Describe(err))
			break
		}
		tv.Valid, tv.JTI, tv.Subject, tv.Exp = true, id.TokenID, id.User, id.ExpiresAt.Unix()
		if id.TokenID != "" {
			tv.Revoked, _ = h.o.Store.JTIRevoked(r.Context(), id.TokenID)
		}
		for _, c := range []claim{
			{"user", id.User}, {"issuer", id.Issuer}, {"jti", id.TokenID},
			{"issued at", h.clock(id.IssuedAt)}, {"expires at", h.clock(id.ExpiresAt)},
		} {
			if c.Value != "" {
				tv.Claims = append(tv.Claims, claim{Name: c.Name, Value: httpx.Clip(c.Value)})
			}
		}
		names := make([]string, 0, len(id.Claims))
		for k := range id.Claims {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			tv.Claims = append(tv.Claims, claim{Name: k, Value: httpx.Clip(claimString(k, id.Claims[k]))})
		}
	}
	h.render(w, r, http.StatusOK, "tokens", p)
}

func claimString(name string, v any) string {
	switch x := v.(type) {
	case float64:
		if name == "exp" || name == "iat" || name == "nbf" || name == "auth_time" {
			return fmt.Sprintf("%.0f (%s)", x, time.Unix(int64(x), 0).UTC().Format(time.RFC3339))
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// revokeToken: POST tokens/revoke, form jti and exp (of a token the page
// verified): the jti is revoked until exp.
func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	jti, sub := r.PostFormValue("jti"), r.PostFormValue("sub")
	exp, err := strconv.ParseInt(r.PostFormValue("exp"), 10, 64)
	if jti == "" || len(jti) > 1024 || len(sub) > maxUserName || err != nil || exp > auth.MaxUnix {
		h.o.Pages.WriteError(w, r, http.StatusBadRequest, "invalid_request", "The form does not name a token: verify the token again.")
		return
	}
	if exp <= h.o.Now().Unix() {
		h.redirect(w, r, Prefix+"tokens?done=revoked") // expired: nothing left to revoke
		return
	}
	if err := h.o.Store.RevokeJTI(r.Context(), jti, time.Unix(exp, 0)); err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.countRevocations("jti", 1)
	h.record(r, sub, "revoked token jti "+httpx.Clip(jti))
	h.redirect(w, r, Prefix+"tokens?done=revoked")
}

// events: the audit trail with user and kind filters (one audit read).
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := &page{Nav: "events", Heading: "Events", Query: q.Get("user"), Kind: q.Get("kind"), Kinds: auth.AuditKinds}
	status := http.StatusOK
	if p.Kind != "" && !auth.ValidAuditKind(p.Kind) {
		p.Error, p.Kind, status = "Unknown kind.", "", http.StatusBadRequest
	}
	if len(p.Query) > maxUserName {
		p.Error, p.Query, status = fmt.Sprintf("A username has at most %d bytes.", maxUserName), "", http.StatusBadRequest
	}
	evs, err := h.o.Store.ListAudit(r.Context(), auth.AuditFilter{User: p.Query, Kind: p.Kind, Limit: 200})
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	p.Events = h.rows(evs)
	h.render(w, r, status, "eventlist", p)
}
