package config

import (
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		n       int
		per     time.Duration
		wantErr string
	}{
		{in: "5/min", n: 5, per: time.Minute},
		{in: "30/s", n: 30, per: time.Second},
		{in: "30/sec", n: 30, per: time.Second},
		{in: "100/h", n: 100, per: time.Hour},
		{in: "1/hour", n: 1, per: time.Hour},
		{in: "5/m", wantErr: `"5/m" has unknown unit "m" (want s, sec, min, h or hour, e.g. "5/min")`},
		{in: "5/minute", wantErr: `"5/minute" has unknown unit "minute" (want s, sec, min, h or hour, e.g. "5/min")`},
		{in: "0/min", wantErr: `"0/min" has count 0; want a whole number from 1 up`},
		{in: "-1/min", wantErr: `"-1/min" does not start with a count; write N/s, N/min or N/h, e.g. "5/min"`},
		{in: "+1/min", wantErr: `"+1/min" does not start with a count; write N/s, N/min or N/h, e.g. "5/min"`},
		{in: "/min", wantErr: `"/min" does not start with a count; write N/s, N/min or N/h, e.g. "5/min"`},
		{in: " 5/min", wantErr: `" 5/min" does not start with a count; write N/s, N/min or N/h, e.g. "5/min"`},
		{in: "99999999999999999999/s", wantErr: `"99999999999999999999/s" has count 99999999999999999999; want a whole number from 1 up`},
		{in: "5", wantErr: `"5" is not a rate; write N/s, N/min or N/h, e.g. "5/min"`},
		{in: "", wantErr: `"" is not a rate; write N/s, N/min or N/h, e.g. "5/min"`},
		{in: "5/min/s", wantErr: `"5/min/s" has unknown unit "min/s" (want s, sec, min, h or hour, e.g. "5/min")`},
	}
	for _, tt := range tests {
		n, per, err := ParseRate(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseRate(%q): got error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || n != tt.n || per != tt.per {
			t.Errorf("ParseRate(%q) = %d, %v, %v; want %d, %v, nil", tt.in, n, per, err, tt.n, tt.per)
		}
	}
}
