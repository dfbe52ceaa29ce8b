package pages

import (
	"strings"
	"testing"
)

func TestFormActions(t *testing.T) {
	s, err := New(Options{FormActions: []string{"https://idp.example.com/realms/x", "https://idp.example.com", "javascript:x", "https://a b;"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.CSP(), "form-action 'self' https://idp.example.com;") {
		t.Errorf("CSP = %s", s.CSP())
	}
}
