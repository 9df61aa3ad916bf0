package bitlocker

import (
	"regexp"

	"github.com/bitaudit/bitaudit/model"
)

// DecodeOS decodes the os section (Win32_OperatingSystem Caption, Version,
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

// decodeOSSection decodes the os section: DecodeOS's fields plus, from
// format version 2, the PowerShell language mode the script ran in.
func decodeOSSection(data []byte) (model.OSInfo, string, error) {
	os, err := DecodeOS(data)
	if err != nil {
		return os, "", err
	}
	var r struct{ LanguageMode *string }
	if err := unmarshal(data, &r); err != nil {
		return os, "", protocolf("os: %v", err)
	}
	if r.LanguageMode == nil {
		return os, "", nil
	}
	switch *r.LanguageMode {
	case "FullLanguage", "ConstrainedLanguage", "RestrictedLanguage", "NoLanguage":
		return os, *r.LanguageMode, nil
	}
	return os, "", protocolf("os: LanguageMode is not a PowerShell language mode")
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
