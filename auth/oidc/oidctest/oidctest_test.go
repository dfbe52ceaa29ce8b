package oidctest

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestStartServesDiscovery(t *testing.T) {
	p := Start(t, Options{RedirectURIs: []string{"http://127.0.0.1:1/.gatehouse/oidc/callback"}})
	resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Issuer            string `json:"issuer"`
		EndSession        string `json:"end_session_endpoint"`
		BackchannelLogout bool   `json:"backchannel_logout_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != p.Issuer || d.EndSession == "" || !d.BackchannelLogout {
		t.Fatalf("discovery = %+v", d)
	}
	p.Disable("bob")
	p.Enable("bob")
}
