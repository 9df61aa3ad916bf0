package winrm

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// ParseHostsFile reads a hosts(5)-format file: an IP address, then one or
// more names, per line; '#' starts a comment. Names are case-insensitive;
// the first line naming a host wins, as in the resolver. Errors name the
// file and line.
func ParseHostsFile(r io.Reader, name string) (map[string]netip.Addr, error) {
	out := map[string]netip.Addr{}
	sc := bufio.NewScanner(io.LimitReader(r, 64<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %q is not an IP address", name, line, fields[0])
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: no host name after %s", name, line, fields[0])
		}
		for _, h := range fields[1:] {
			h = strings.ToLower(strings.TrimSuffix(h, "."))
			if _, seen := out[h]; !seen {
				out[h] = addr.Unmap()
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// resolve returns the address Options.Hosts maps host to, else host
// itself (for DNS). TLS still verifies the certificate against host.
func (c *Collector) resolve(host string) string {
	if ip, ok := c.opts.Hosts[strings.ToLower(strings.TrimSuffix(host, "."))]; ok {
		return ip.String()
	}
	return host
}
