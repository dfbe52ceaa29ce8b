// Package authtest holds test helpers shared by Gatehouse's packages: real
// redis-server processes (standalone, cluster and sentinel) started on free
// loopback ports, in temporary directories, without persistence, and
// stopped by t.Cleanup. It is a normal package so that any package's tests
// can import it; production code must not.
package authtest
