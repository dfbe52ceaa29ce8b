// Package users holds the people who may log in with a password: it reads
// the users file (YAML) and an Apache htpasswd file (bcrypt entries only),
// checks passwords in constant time with respect to whether the user exists,
// and reloads both files when they change on disk (Watcher).
package users
