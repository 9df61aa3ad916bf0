package bitlocker

import (
	"encoding/json"
	"regexp"

	"github.com/bitaudit/bitaudit/model"
)

var valueNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// DecodeFVEPolicy decodes `Get-ItemProperty HKLM:\SOFTWARE\Policies\Microsoft\FVE
// | ConvertTo-Json`: integer values become the policy map, strings and other
// types are ignored. Empty input means the key does not exist (empty map).
func DecodeFVEPolicy(data []byte) (map[string]int64, error) {
	policy := map[string]int64{}
	if len(trimSpace(data)) == 0 {
		return policy, nil
	}
	var raw map[string]json.RawMessage
	if err := unmarshal(data, &raw); err != nil {
		return nil, protocolf("fve: %v", err)
	}
	for name, v := range raw {
		var n json.Number
		if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			continue // string, bool, array (REG_SZ, REG_MULTI_SZ, REG_BINARY), null
		}
		if !valueNameRE.MatchString(name) {
			return nil, protocolf("fve: invalid value name")
		}
		if err := unmarshal(v, &n); err != nil {
			return nil, protocolf("fve: %s: %v", name, err)
		}
		i, err := n.Int64()
		if err != nil {
			return nil, protocolf("fve: %s: not an integer", name)
		}
		policy[name] = i
	}
	return policy, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// OS decodes the os section (Win32_OperatingSystem Caption, Version,
// BuildNumber).
func DecodeOS(data []byte) (model.OSInfo, error) {
	var r struct{ Caption, Version, BuildNumber *string }
	if err := unmarshal(data, &r); err != nil {
		return model.OSInfo{}, protocolf("os: %v", err)
	}
	var os model.OSInfo
	var err error
	get := func(name string, p *string, max int) string {
		if p == nil || err != nil {
			return ""
		}
		var s string
		s, err = field("os "+name, *p, max)
		return s
	}
	os.Caption = get("Caption", r.Caption, 256)
	os.Version = get("Version", r.Version, 64)
	os.Build = get("BuildNumber", r.BuildNumber, 32)
	return os, err
}

// Computer is what the computer section says about the host.
type Computer struct {
	Name         string // NetBIOS computer name
	DNSHostName  string
	Domain       string
	PartOfDomain bool
}

// hostLabelRE accepts Windows computer and domain names: letters and
// digits of any script (NetBIOS names may be non-ASCII, e.g. "LAPTOP-Ä01"),
// '_', '-' and '.'; nothing that could break out of a report or a query.
var hostLabelRE = regexp.MustCompile(`^[\p{L}\p{N}_]([\p{L}\p{N}_.-]{0,252})?$`)

// DecodeComputer decodes the computer section (Win32_ComputerSystem Name,
// DNSHostName, Domain, PartOfDomain). Names must look like host names.
func DecodeComputer(data []byte) (Computer, error) {
	var r struct {
		Name, DNSHostName, Domain *string
		PartOfDomain              *bool
	}
	if err := unmarshal(data, &r); err != nil {
		return Computer{}, protocolf("computer: %v", err)
	}
	var c Computer
	for _, f := range []struct {
		name string
		in   *string
		out  *string
	}{{"Name", r.Name, &c.Name}, {"DNSHostName", r.DNSHostName, &c.DNSHostName}, {"Domain", r.Domain, &c.Domain}} {
		if f.in == nil || *f.in == "" {
			continue
		}
		if !hostLabelRE.MatchString(*f.in) {
			return Computer{}, protocolf("computer: %s is not a host name", f.name)
		}
		*f.out = *f.in
	}
	if c.Name == "" {
		return Computer{}, protocolf("computer: Name missing")
	}
	c.PartOfDomain = r.PartOfDomain != nil && *r.PartOfDomain
	return c, nil
}
