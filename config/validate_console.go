package config

import "net/netip"

// validateConsole checks admin.console and audit.
func (c *Config) validateConsole(p *problems) {
	for i, g := range c.Admin.Console.Groups {
		if g == "" {
			p.add(index("admin.console.groups", i), "empty; name a group, e.g. \"admins\"")
		}
	}
	for i, n := range c.Admin.Console.Networks {
		checkPrefix(p, index("admin.console.networks", i), n)
	}
	if m := c.Audit.MaxEvents; m < 1 || m > 1000000 {
		p.add("audit.max_events", "%d is out of range; write a number from 1 to 1000000, e.g. 10000", m)
	}
}

// ConsoleNetworks is admin.console.networks, parsed as TrustedPrefixes
// parses trusted_proxies. Values that do not parse are left out.
func (c *Config) ConsoleNetworks() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.Admin.Console.Networks {
		if p, ok := parsePrefix(s); ok {
			out = append(out, p)
		}
	}
	return out
}
