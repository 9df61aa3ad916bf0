package bitlocker

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// Framing markers printed by collect.ps1.
const (
	beginMarker   = "##BITAUDIT BEGIN "
	endMarker     = "##BITAUDIT END "
	sectionMarker = "##SECTION "
	errorMarker   = "##ERROR "
	// FormatVersion is the framing version collect.ps1 prints. Version 1
	// (no partitions section, no method return values, events as a JSON
	// array of ToXml() strings) is still decoded.
	FormatVersion = 2
)

// sectionsByVersion are the sections of each format version, in the order
// the script prints them. Each must appear exactly once.
var sectionsByVersion = map[int][]string{
	1: {"os", "computer", "volumes", "events", "fve", "dsregcmd"},
	2: {"os", "computer", "volumes", "partitions", "events", "fve", "dsregcmd"},
}

// maxCollection bounds the output DecodeCollection accepts.
const maxCollection = 32 << 20

// A SectionError is an ##ERROR record the script printed inside a section:
// the command failed on the host. ID is PowerShell's FullyQualifiedErrorId.
type SectionError struct {
	Section string
	ID      string
	Message string // cleaned, short
}

func (e *SectionError) Error() string {
	return fmt.Sprintf("section %s: host error %s: %s", e.Section, e.ID, e.Message)
}

// Unwrap makes a SectionError match model.ErrNoData: the host answered
// but could not produce the data. When the host said access was denied (the
// account is not an administrator: WMI 0x80041003, E_ACCESSDENIED
// 0x80070005), it matches model.ErrAuth too.
func (e *SectionError) Unwrap() []error {
	if e.accessDenied() {
		return []error{model.ErrNoData, model.ErrAuth}
	}
	return []error{model.ErrNoData}
}

// invalidNamespace reports WBEM_E_INVALID_NAMESPACE (0x8004100E): for the
// volumes section, the BitLocker feature and its WMI provider are not
// installed (Win32_EncryptableVolume requires the feature).
func (e *SectionError) invalidNamespace() bool {
	s := strings.ToLower(e.ID + " " + e.Message)
	return strings.Contains(s, "0x8004100e") || strings.Contains(s, "invalid namespace")
}

func (e *SectionError) accessDenied() bool {
	s := strings.ToLower(e.ID + " " + e.Message)
	return strings.Contains(s, "0x80041003") || strings.Contains(s, "0x80070005") ||
		strings.Contains(s, "access denied") || strings.Contains(s, "access is denied") ||
		strings.Contains(s, "unauthorizedaccess")
}

type section struct {
	body []byte
	err  *SectionError
}

// DecodeCollection decodes the framed stdout of collect.ps1 into host facts
// and volumes. Missing, garbled or truncated framing (no END marker, a
// section count that does not match) and undecodable JSON are errors
// wrapping model.ErrProtocol. A failed computer section, or a failed
// volumes section other than a missing BitLocker namespace, is a
// *SectionError (model.ErrNoData; model.ErrAuth too when access was
// denied). A host without the BitLocker feature yields
// BitLockerNotInstalled and no volumes. Failures of the other sections
// leave their facts empty and are listed in Source.SectionErrors;
// malformed events are skipped and counted in Source.EventsSkipped. The
// rest of Source is left for the collector to fill in.
func DecodeCollection(stdout []byte) (model.HostFacts, []model.Volume, error) {
	var facts model.HostFacts
	secs, err := frames(stdout)
	if err != nil {
		return facts, nil, err
	}
	failed := func(name string) bool {
		s, ok := secs[name]
		if ok && s.err != nil {
			facts.Source.SectionErrors = append(facts.Source.SectionErrors,
				model.SectionError{Section: s.err.Section, ID: s.err.ID, Message: s.err.Message})
		}
		return !ok || s.err != nil
	}

	vols := []model.Volume{}
	switch s := secs["volumes"]; {
	case s.err != nil && s.err.invalidNamespace():
		facts.BitLockerNotInstalled = true
	case s.err != nil:
		return facts, nil, s.err
	default:
		if vols, err = DecodeVolumes(s.body); err != nil {
			return facts, nil, err
		}
	}

	if s, ok := secs["partitions"]; ok && !failed("partitions") {
		parts, err := DecodePartitions(s.body)
		if err != nil {
			return facts, nil, err
		}
		vols, facts.SystemVolumes = splitSystemVolumes(vols, parts)
	}

	if !failed("os") {
		if facts.OS, facts.Source.LanguageMode, err = decodeOSSection(secs["os"].body); err != nil {
			return facts, nil, err
		}
	}

	var comp Computer
	s := secs["computer"]
	if s.err != nil {
		return facts, nil, s.err // without a computer name the result is unattributable
	}
	if comp, err = DecodeComputer(s.body); err != nil {
		return facts, nil, err
	}
	facts.Hostname = comp.Name
	if comp.PartOfDomain && comp.DNSHostName != "" && comp.Domain != "" {
		facts.FQDN = strings.ToLower(comp.DNSHostName + "." + comp.Domain)
	}

	facts.Join = model.JoinInfo{State: model.JoinUnknown}
	if !failed("dsregcmd") {
		if facts.Join, err = DecodeDsregcmd(secs["dsregcmd"].body); err != nil {
			return facts, nil, err
		}
	}
	if facts.Join.DomainName == "" && comp.PartOfDomain && facts.Join.State != model.JoinEntra && facts.Join.State != model.JoinWorkgroup {
		facts.Join.DomainName = comp.Domain
	}

	facts.Events = []model.BackupEvent{}
	if !failed("events") {
		if facts.Events, facts.Source.EventsSkipped, err = DecodeEvents(secs["events"].body); err != nil {
			return facts, nil, err
		}
	}

	facts.Policy = map[string]int64{}
	if !failed("fve") {
		if facts.Policy, err = DecodeFVEPolicy(secs["fve"].body); err != nil {
			return facts, nil, err
		}
	}
	return facts, vols, nil
}

// frames splits stdout into its sections and checks the framing.
func frames(stdout []byte) (map[string]section, error) {
	if len(stdout) > maxCollection {
		return nil, protocolf("output larger than %d bytes", maxCollection)
	}
	stdout = bytes.TrimPrefix(stdout, []byte("\xef\xbb\xbf"))
	secs := make(map[string]section, 8)
	var sections []string
	var cur string
	var body []byte // the section's lines, LF-separated
	bodyLines := 0
	var serr *SectionError
	begun, ended := false, false
	flush := func() {
		if cur != "" {
			secs[cur] = section{body: body, err: serr}
		}
		cur, body, bodyLines, serr = "", nil, 0, nil
	}
	text := string(stdout)
	for i, more := 0, true; more; i++ {
		var line string
		line, text, more = strings.Cut(text, "\n")
		line = strings.TrimRight(line, "\r")
		switch {
		case ended:
			if strings.TrimSpace(line) != "" {
				return nil, protocolf("output continues after the END marker (line %d)", i+1)
			}
		case strings.HasPrefix(line, beginMarker):
			if begun {
				return nil, protocolf("second BEGIN marker (line %d)", i+1)
			}
			v, err := strconv.Atoi(strings.TrimPrefix(line, beginMarker))
			if err != nil || sectionsByVersion[v] == nil {
				return nil, protocolf("unsupported framing version on line %d", i+1)
			}
			sections = sectionsByVersion[v]
			begun = true
		case !begun:
			// Anything a profile or the shell printed before the script started.
		case strings.HasPrefix(line, sectionMarker):
			flush()
			name := strings.TrimPrefix(line, sectionMarker)
			if !slices.Contains(sections, name) {
				return nil, protocolf("unknown section on line %d", i+1)
			}
			if _, dup := secs[name]; dup {
				return nil, protocolf("section %s repeated (line %d)", name, i+1)
			}
			cur = name
		case strings.HasPrefix(line, endMarker):
			flush()
			n, err := strconv.Atoi(strings.TrimPrefix(line, endMarker))
			if err != nil || n != len(secs) || n != len(sections) {
				return nil, protocolf("truncated output: END marker announces %s sections, %d seen", Clean(strings.TrimPrefix(line, endMarker), 12), len(secs))
			}
			ended = true
		case strings.HasPrefix(line, "##BITAUDIT"):
			return nil, protocolf("garbled marker on line %d", i+1)
		case cur == "":
			if strings.TrimSpace(line) != "" {
				return nil, protocolf("output outside a section (line %d)", i+1)
			}
		case serr != nil:
			serr.Message = Clean(serr.Message+" "+line, 300)
		case strings.HasPrefix(line, errorMarker) && bodyLines == 0:
			id, msg, _ := strings.Cut(strings.TrimPrefix(line, errorMarker), " ")
			if id == "HRESULT" {
				// CIM cmdlets' ids hold a space: "HRESULT 0x80041003,Microsoft…Command".
				var code string
				code, msg, _ = strings.Cut(msg, " ")
				id += " " + code
			}
			serr = &SectionError{Section: cur, ID: Clean(id, 120), Message: Clean(msg, 300)}
		default:
			if bodyLines > 0 {
				body = append(body, '\n')
			}
			body = append(body, line...)
			bodyLines++
		}
	}
	switch {
	case !begun:
		return nil, protocolf("no BEGIN marker: not collection output")
	case !ended:
		return nil, protocolf("truncated output: no END marker")
	}
	// Events (version 1, Get-WinEvent): "no events found" is an empty log, not a failure.
	if s := secs["events"]; s.err != nil && strings.HasPrefix(s.err.ID, "NoMatchingEventsFound") {
		secs["events"] = section{body: []byte("[]")}
	}
	return secs, nil
}
