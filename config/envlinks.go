package config

import (
	"net/netip"
	"regexp"
	"strings"
)

// Kubernetes injects "service links" into every container of a Pod whose
// enableServiceLinks is not false: for a Service named gatehouse (or
// gatehouse-metrics, …) in the Pod's namespace it sets, for example,
//
//	GATEHOUSE_SERVICE_HOST=10.96.0.12
//	GATEHOUSE_SERVICE_PORT=80
//	GATEHOUSE_SERVICE_PORT_HTTP=80
//	GATEHOUSE_PORT=tcp://10.96.0.12:80
//	GATEHOUSE_PORT_80_TCP=tcp://10.96.0.12:80
//	GATEHOUSE_PORT_80_TCP_PROTO=tcp
//	GATEHOUSE_PORT_80_TCP_PORT=80
//	GATEHOUSE_PORT_80_TCP_ADDR=10.96.0.12
//
// They share the GATEHOUSE_ prefix of the config overrides but are not
// config. A variable is taken for a service link only when its name and its
// value both have one of these shapes and it names no config key; every
// other unknown GATEHOUSE_ variable stays an error.
var (
	// The service name part: a DNS label upper-cased with '-' as '_'; it
	// never holds "__", the separator of config levels.
	serviceLinkName = `GATEHOUSE(?:_[A-Z0-9]+)*`
	linkServiceHost = regexp.MustCompile(`^` + serviceLinkName + `_SERVICE_HOST$`)
	linkServicePort = regexp.MustCompile(`^` + serviceLinkName + `_SERVICE_PORT(?:_[A-Z0-9]+)*$`)
	linkPortURL     = regexp.MustCompile(`^` + serviceLinkName + `_PORT(?:_[0-9]+_(?:TCP|UDP|SCTP))?$`)
	linkPortProto   = regexp.MustCompile(`^` + serviceLinkName + `_PORT_[0-9]+_(?:TCP|UDP|SCTP)_PROTO$`)
	linkPortPort    = regexp.MustCompile(`^` + serviceLinkName + `_PORT_[0-9]+_(?:TCP|UDP|SCTP)_PORT$`)
	linkPortAddr    = regexp.MustCompile(`^` + serviceLinkName + `_PORT_[0-9]+_(?:TCP|UDP|SCTP)_ADDR$`)

	linkURLValue  = regexp.MustCompile(`^(?:tcp|udp|sctp)://\S+:[0-9]+$`)
	linkPortValue = regexp.MustCompile(`^[0-9]{1,5}$`)
)

// isServiceLink reports whether name=value is a Kubernetes service link
// variable (see above). Names that hold "__" never are.
func isServiceLink(name, value string) bool {
	if strings.Contains(name, "__") {
		return false
	}
	isAddr := func(v string) bool { _, err := netip.ParseAddr(v); return err == nil }
	switch {
	case linkServiceHost.MatchString(name), linkPortAddr.MatchString(name):
		return isAddr(value)
	case linkServicePort.MatchString(name), linkPortPort.MatchString(name):
		return linkPortValue.MatchString(value)
	case linkPortURL.MatchString(name):
		return linkURLValue.MatchString(value)
	case linkPortProto.MatchString(name):
		return value == "tcp" || value == "udp" || value == "sctp"
	}
	return false
}

// IgnoredEnv returns the names of the GATEHOUSE_ variables of environ (in
// os.Environ form) that Load ignores as Kubernetes service links, sorted,
// so that the caller can log them (at debug level: they are expected in a
// namespace with a Service named gatehouse).
func IgnoredEnv(environ []string) []string {
	_, _, ignored := parseEnv(environ)
	return ignored
}
