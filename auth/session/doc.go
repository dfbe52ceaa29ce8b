// Package session implements Gatehouse's server-side browser sessions: a
// 256-bit random ID in an HttpOnly cookie, the record kept in an
// auth.SessionStore under the hex SHA-256 of that ID (never the ID itself),
// idle and absolute timeouts, subject revocation, login and logout.
package session
