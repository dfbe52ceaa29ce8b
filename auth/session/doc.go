// Package session implements Gatehouse's server-side browser sessions: a
// 256-bit random ID in an HttpOnly cookie, the record kept in an
// auth.SessionStore under the hex SHA-256 of that ID (never the ID itself),
// idle and absolute timeouts, subject revocation, login and logout.
//
// The users files are the truth for sessions made by the password login:
// each records a fingerprint of the user's password hash, and every
// request looks the user up in the current users directory (Options.Users,
// a map read): a user who is gone or whose hash changed is refused, and
// email and groups come from the directory, never from what was
// recorded at sign-in. Sessions without a fingerprint (another sign-in
// method) are not checked against the users files.
package session
