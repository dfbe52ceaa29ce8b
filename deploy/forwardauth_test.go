package deploy

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/config"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// TestIngressNginxAnnotations: the ingress-nginx example decodes strictly
// into Ingresses, and copies (overwrites) every default identity header
// from Gatehouse's answer. The nginx server block and the Caddyfile beside
// it run against real nginx and Caddy in cmd/gatehouse (ingress_test.go).
func TestIngressNginxAnnotations(t *testing.T) {
	b, err := os.ReadFile("forward-auth/ingress-nginx.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ings []networkingv1.Ingress
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		var ing networkingv1.Ingress
		if err := yaml.UnmarshalStrict(doc, &ing); err != nil {
			t.Fatalf("decode: %v", err)
		}
		ings = append(ings, ing)
	}
	if len(ings) != 2 {
		t.Fatalf("%d Ingresses, want 2 (the app's, and Gatehouse's pages)", len(ings))
	}
	a := ings[0].Annotations
	if u := a["nginx.ingress.kubernetes.io/auth-url"]; !strings.HasSuffix(u, "/.gatehouse/auth/auth-request") {
		t.Errorf("auth-url %q, want the auth-request endpoint", u)
	}
	h := config.Default().IdentityHeaders
	for _, name := range []string{h.User, h.Email, h.Groups, h.Method} {
		if !strings.Contains(a["nginx.ingress.kubernetes.io/auth-response-headers"], name) {
			t.Errorf("auth-response-headers does not copy %s", name)
		}
	}
	if p := ings[1].Spec.Rules[0].HTTP.Paths[0].Path; p != "/.gatehouse/" {
		t.Errorf("Gatehouse's Ingress path %q, want /.gatehouse/", p)
	}
}
