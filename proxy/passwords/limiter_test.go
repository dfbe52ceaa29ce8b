package passwords

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
)

// TestNewLimiterRequires: the rates are config's parsed values (the
// package's own ParseRate, a second grammar, is gone); a zero rate or no
// counters is refused.
func TestNewLimiterRequires(t *testing.T) {
	perMin := func(n int) Rate { return Rate{N: n, Per: time.Minute} }
	if _, err := NewLimiter(LimiterOptions{Rate: perMin(5), ClientRate: Rate{}, Counts: memstore.NewAttempts(nil)}); err == nil {
		t.Error("NewLimiter with a zero client rate succeeded")
	}
	if _, err := NewLimiter(LimiterOptions{Rate: perMin(5), ClientRate: perMin(30)}); err == nil {
		t.Error("NewLimiter without counters succeeded")
	}
}
