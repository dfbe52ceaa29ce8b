package login

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"5/min", Rate{N: 5, Per: time.Minute}, true},
		{"30/min", Rate{N: 30, Per: time.Minute}, true},
		{"2/s", Rate{N: 2, Per: time.Second}, true},
		{"100/h", Rate{N: 100, Per: time.Hour}, true},
		{" 7 / hour ", Rate{N: 7, Per: time.Hour}, true},
		{"0/min", Rate{}, false},
		{"-1/min", Rate{}, false},
		{"5", Rate{}, false},
		{"5/day", Rate{}, false},
		{"x/min", Rate{}, false},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if _, err := NewLimiter(LimiterOptions{Rate: "5/min", ClientRate: "bad", Counts: memstore.NewAttempts(nil)}); err == nil {
		t.Error(`NewLimiter with client rate "bad" succeeded`)
	}
	if _, err := NewLimiter(LimiterOptions{Rate: "5/min", ClientRate: "30/min"}); err == nil {
		t.Error("NewLimiter without counters succeeded")
	}
}
