package config

import (
	"testing"
)

// TestLogSettings: log.level, log.format and log.access have the
// documented defaults, load from the file and the environment, and a bad
// value names the key and the valid ones (README "Logs").
func TestLogSettings(t *testing.T) {
	if got, want := Default().Log, (Log{Level: "info", Format: "json", Access: true}); got != want {
		t.Errorf("Default().Log = %+v, want %+v", got, want)
	}
	path := writeConfig(t, `
log: {level: debug, format: text, access: false}
routes:
  - {name: app, match: {path_prefix: /}, auth: none}
`)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := (Log{Level: "debug", Format: "text", Access: false}); c.Log != want {
		t.Errorf("log from the file = %+v, want %+v", c.Log, want)
	}
	c, err = Load(path, []string{"GATEHOUSE_LOG__LEVEL=warn", "GATEHOUSE_LOG__FORMAT=json", "GATEHOUSE_LOG__ACCESS=true"})
	if err != nil {
		t.Fatalf("Load with overrides: %v", err)
	}
	if want := (Log{Level: "warn", Format: "json", Access: true}); c.Log != want {
		t.Errorf("log from the environment = %+v, want %+v", c.Log, want)
	}
	runValidateCases(t, []validateCase{
		{"levels ok", func(c *Config) { c.Log.Level = "error" }, nil},
		{"text ok", func(c *Config) { c.Log.Format = "text" }, nil},
		{"bad level and format", func(c *Config) { c.Log.Level = "verbose"; c.Log.Format = "logfmt" }, []string{
			`log.level: unknown level "verbose" (want debug, info, warn, error)`,
			`log.format: unknown format "logfmt" (want json, text)`,
		}},
		{"level case", func(c *Config) { c.Log.Level = "INFO" },
			[]string{`log.level: unknown level "INFO" (want debug, info, warn, error)`}},
	})
	_, err = Load(path, []string{"GATEHOUSE_LOG__ACCESS=off"})
	assertProblems(t, "Load with GATEHOUSE_LOG__ACCESS=off", err, []string{`log.access: "off" is not true or false`})
}
