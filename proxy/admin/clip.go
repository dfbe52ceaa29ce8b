package admin

import "github.com/gatehouse-proxy/gatehouse/proxy/httpx"

// clip bounds a caller-chosen value in the audit log (httpx.Clip: 256
// bytes, cut at a rune boundary and marked).
func clip(s string) string { return httpx.Clip(s) }
