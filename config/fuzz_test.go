package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// bytesProvider is a koanf.Provider of raw YAML, so the fuzzer needs no
// files.
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }

func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("bytesProvider has no map")
}

func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed configs in testdata: %v", err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("routes: [{name: a, match: {path: /}, auth: none}]\n"))
	f.Add([]byte("server: {idle_timeout: 1e9}\n"))
	f.Add([]byte("jwt: {issuers: [{claims: {user: [1]}}]}\n"))
	f.Fuzz(func(t *testing.T, yaml []byte) {
		c, err := load(bytesProvider(yaml), "fuzz.yaml", []string{"GATEHOUSE_STORE__REDIS__DB=1"})
		if c == nil {
			if err == nil {
				t.Fatal("load returned neither a config nor an error")
			}
			return
		}
		verr := c.Validate()
		if err == nil && verr != nil {
			t.Fatalf("load accepted a config that Validate refuses: %v", verr)
		}
		for _, fe := range FieldErrors(err) {
			if fe.Problem == "" {
				t.Fatalf("field error without a problem: %#v", fe)
			}
		}
	})
}
