package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// rateUnits are the accepted units of a rate, by name.
var rateUnits = map[string]time.Duration{
	"s":    time.Second,
	"sec":  time.Second,
	"min":  time.Minute,
	"h":    time.Hour,
	"hour": time.Hour,
}

// ParseRate parses a rate such as "5/min", "30/s" or "100/h" into a count
// and the period it applies to. Units are s, sec, min, h and hour ("m" is
// refused as ambiguous); the count is a decimal integer of at least 1.
func ParseRate(s string) (n int, per time.Duration, err error) {
	count, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a rate; write N/s, N/min or N/h, e.g. \"5/min\"", s)
	}
	per, ok = rateUnits[unit]
	if !ok {
		return 0, 0, fmt.Errorf("%q has unknown unit %q (want s, sec, min, h or hour, e.g. \"5/min\")", s, unit)
	}
	if count == "" || strings.TrimLeft(count, "0123456789") != "" {
		return 0, 0, fmt.Errorf("%q does not start with a count; write N/s, N/min or N/h, e.g. \"5/min\"", s)
	}
	n, err = strconv.Atoi(count)
	if err != nil || n < 1 {
		return 0, 0, fmt.Errorf("%q has count %s; want a whole number from 1 up", s, count)
	}
	return n, per, nil
}
