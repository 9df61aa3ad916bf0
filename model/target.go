package model

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A Target is one host to audit, as named in the targets file.
type Target struct {
	// Host is a DNS name or an IP address, without brackets.
	Host string `json:"host"`
	// Port is the WinRM port; 0 means the transport's default (5986 or 5985).
	Port int `json:"port,omitempty"`
	// FQDN, ADDN and EntraDeviceID are the operator's identity of the host,
	// from the targets-CSV columns fqdn, ad_dn and entra_device_id (what a
	// directory inventory writes). Evidence from a source is credited to
	// the target only when what the host reports matches this identity,
	// never on the host's word alone. All are optional.
	FQDN          string `json:"fqdn,omitempty"`
	ADDN          string `json:"ad_dn,omitempty"`
	EntraDeviceID string `json:"entra_device_id,omitempty"`
	// Labels are the extra CSV columns, kept for reports.
	Labels map[string]string `json:"labels,omitempty"`
}

// Identity columns of a targets CSV (case-insensitive); they are not labels.
const (
	ColumnHost          = "host"
	ColumnFQDN          = "fqdn"
	ColumnADDN          = "ad_dn"
	ColumnEntraDeviceID = "entra_device_id"
)

// DNSName returns the operator's DNS name for the target: the fqdn column,
// else the host when it is a name rather than an IP address; "" when the
// target is known only by its address.
func (t Target) DNSName() string {
	if t.FQDN != "" {
		return t.FQDN
	}
	if _, err := netip.ParseAddr(t.Host); err == nil {
		return ""
	}
	return t.Host
}

// HasIdentity reports whether the target's identity is known independently
// of the host: a DNS name, an AD DN or an Entra device ID. A target given
// only as an IP address has none.
func (t Target) HasIdentity() bool {
	return t.DNSName() != "" || t.ADDN != "" || t.EntraDeviceID != ""
}

// String returns the target as written in a targets file: host or host:port.
func (t Target) String() string {
	if t.Port == 0 {
		if strings.Contains(t.Host, ":") {
			return "[" + t.Host + "]"
		}
		return t.Host
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// Key identifies a target for de-duplication: the host, case-folded, and port.
func (t Target) Key() string {
	return strings.ToLower(t.Host) + "|" + strconv.Itoa(t.Port)
}

// A Duplicate records a target named more than once; it is audited once.
type Duplicate struct {
	Target    string `json:"target"`
	Line      int    `json:"line"`
	FirstLine int    `json:"first_line"`
}

// A TargetError names the file and line of a malformed target.
type TargetError struct {
	File string
	Line int
	Err  error
}

func (e *TargetError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *TargetError) Unwrap() error { return e.Err }

// ErrNoTargets is returned for a targets file that names no host.
var ErrNoTargets = errors.New("no targets")

// ParseTargets reads a targets file: either one host[:port] per line ('#'
// comments and blank lines ignored), or CSV whose header has a "host" column
// (other columns become labels). name is used in errors. Every malformed line
// is reported, joined, each as a *TargetError; on any error no target is
// returned. Repeated targets are returned once and listed as duplicates.
func ParseTargets(r io.Reader, name string) ([]Target, []Duplicate, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, nil, &TargetError{File: name, Err: err}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM, as Excel writes
	if err := checkText(data); err != nil {
		return nil, nil, &TargetError{File: name, Err: err}
	}
	if cols, ok := csvWithoutHost(data); ok {
		return nil, nil, &TargetError{File: name, Line: 1, Err: fmt.Errorf("CSV header has no \"host\" column (columns found: %s); name the column of host names \"host\"", strings.Join(cols, ", "))}
	}
	type entry struct {
		t    Target
		line int
	}
	var entries []entry
	var errs []error
	if isCSV(data) {
		cr := csv.NewReader(bytes.NewReader(data))
		cr.FieldsPerRecord = -1
		cr.Comment = '#'
		header, err := cr.Read()
		if err != nil {
			return nil, nil, &TargetError{File: name, Line: 1, Err: fmt.Errorf("csv header: %w", err)}
		}
		hostCol := -1
		idCols := map[int]string{}
		for i, h := range header {
			header[i] = strings.TrimSpace(h)
			switch k := strings.ToLower(header[i]); k {
			case ColumnHost:
				hostCol = i
			case ColumnFQDN, ColumnADDN, ColumnEntraDeviceID:
				idCols[i] = k
			}
		}
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				// A malformed record has no field positions: the error says where.
				line := 0
				if pe, ok := errors.AsType[*csv.ParseError](err); ok {
					line, err = pe.StartLine, fmt.Errorf("column %d: %w", pe.Column, pe.Err)
				}
				errs = append(errs, &TargetError{File: name, Line: line, Err: err})
				break
			}
			line, _ := cr.FieldPos(0)
			if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
				continue
			}
			if hostCol >= len(rec) {
				errs = append(errs, &TargetError{File: name, Line: line, Err: errors.New("missing host column")})
				continue
			}
			t, err := parseHostPort(rec[hostCol])
			if err != nil {
				errs = append(errs, &TargetError{File: name, Line: line, Err: err})
				continue
			}
			if err := setIdentity(&t, rec, idCols); err != nil {
				errs = append(errs, &TargetError{File: name, Line: line, Err: err})
				continue
			}
			for i, v := range rec {
				if i == hostCol || i >= len(header) || header[i] == "" || idCols[i] != "" {
					continue
				}
				if t.Labels == nil {
					t.Labels = map[string]string{}
				}
				t.Labels[header[i]] = strings.TrimSpace(v)
			}
			entries = append(entries, entry{t, line})
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		line := 0
		for sc.Scan() {
			line++
			s := sc.Text()
			if i := strings.IndexByte(s, '#'); i >= 0 {
				s = s[:i]
			}
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			t, err := parseHostPort(s)
			if err != nil {
				errs = append(errs, &TargetError{File: name, Line: line, Err: err})
				continue
			}
			entries = append(entries, entry{t, line})
		}
		if err := sc.Err(); err != nil {
			errs = append(errs, &TargetError{File: name, Line: line + 1, Err: err})
		}
	}
	if len(errs) > maxTargetErrors {
		more := len(errs) - maxTargetErrors
		errs = append(errs[:maxTargetErrors], &TargetError{File: name, Err: fmt.Errorf("… and %d more malformed lines", more)})
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	if len(entries) == 0 {
		return nil, nil, &TargetError{File: name, Err: ErrNoTargets}
	}
	seen := map[string]int{}
	var targets []Target
	var dups []Duplicate
	for _, e := range entries {
		k := e.t.Key()
		if first, ok := seen[k]; ok {
			dups = append(dups, Duplicate{Target: e.t.String(), Line: e.line, FirstLine: first})
			continue
		}
		seen[k] = e.line
		targets = append(targets, e.t)
	}
	return targets, dups, nil
}

// maxTargetErrors bounds the malformed lines listed one by one.
const maxTargetErrors = 20

// checkText rejects data that is not UTF-8 text: binary data, or UTF-16 as
// Windows tools write it ("Unicode" in Notepad), which has NUL bytes.
func checkText(data []byte) error {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
			return errors.New("not a UTF-8 text file (UTF-16, as Windows' \"Unicode\" encoding writes): save it as UTF-8")
		}
		return fmt.Errorf("not a text file (NUL byte at offset %d): want one host[:port] per line, or CSV with a host column", i)
	}
	if !utf8.Valid(data) {
		return errors.New("not a UTF-8 text file (invalid byte sequence): want one host[:port] per line, or CSV with a host column")
	}
	return nil
}

// maxDNLen bounds an ad_dn value; real DNs are far shorter.
const maxDNLen = 2048

// setIdentity fills t's identity from the CSV identity columns, validating
// each value: the values later reach LDAP filters and Graph URLs.
func setIdentity(t *Target, rec []string, cols map[int]string) error {
	for i, v := range rec { // in column order, so errors are deterministic
		col := cols[i]
		v = strings.TrimSpace(v)
		if col == "" || v == "" {
			continue
		}
		switch col {
		case ColumnFQDN:
			if _, err := netip.ParseAddr(v); err == nil {
				return fmt.Errorf("fqdn %q is an IP address, not a DNS name", v)
			}
			if err := ValidateHostname(v); err != nil {
				return fmt.Errorf("fqdn: %w", err)
			}
			t.FQDN = strings.TrimSuffix(v, ".")
		case ColumnADDN:
			if err := validateDN(v); err != nil {
				return err
			}
			t.ADDN = v
		case ColumnEntraDeviceID:
			id := strings.ToLower(strings.Trim(v, "{}"))
			if !IsGUID(id) {
				return fmt.Errorf("entra_device_id %q is not a GUID", v)
			}
			t.EntraDeviceID = id
		}
	}
	return nil
}

// csvWithoutHost reports whether the first meaningful line is a CSV header
// (a comma-separated line, which no host[:port] line can be) without a host
// column, and returns its columns.
func csvWithoutHost(data []byte) ([]string, bool) {
	for l := range strings.Lines(string(data)) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.Contains(l, ",") || isCSV(data) {
			return nil, false
		}
		rec, err := csv.NewReader(strings.NewReader(l)).Read()
		if err != nil {
			rec = strings.Split(l, ",")
		}
		for i := range rec {
			rec[i] = strconv.Quote(strings.TrimSpace(rec[i]))
		}
		return rec, true
	}
	return nil, false
}

// validateDN checks that an ad_dn value looks like an LDAP distinguished
// name (RFC 4514): attribute=value pairs, printable, bounded.
func validateDN(v string) error {
	if len(v) > maxDNLen {
		return fmt.Errorf("ad_dn is longer than %d characters", maxDNLen)
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("ad_dn %q contains a control character", v)
		}
	}
	first, _, _ := strings.Cut(v, ",")
	attr, val, ok := strings.Cut(first, "=")
	if !ok || strings.TrimSpace(attr) == "" || strings.TrimSpace(val) == "" {
		return fmt.Errorf("ad_dn %q is not a distinguished name (want CN=NAME,OU=...,DC=...)", v)
	}
	return nil
}

// IsGUID reports whether s is a normalised GUID: 8-4-4-4-12 lower-case hex digits.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// isCSV reports whether the first meaningful line is a CSV header naming a host column.
func isCSV(data []byte) bool {
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.Contains(l, ",") {
			return false
		}
		for _, f := range strings.Split(l, ",") {
			if strings.EqualFold(strings.Trim(strings.TrimSpace(f), `"`), "host") {
				return true
			}
		}
		return false
	}
	return false
}

// parseHostPort validates host, host:port, [v6] or [v6]:port.
func parseHostPort(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, errors.New("empty host")
	}
	if strings.ContainsAny(s, " \t\"'`;|&$<>(){}\\/,") {
		return Target{}, fmt.Errorf("invalid host %q: unexpected character", s)
	}
	host, portStr := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return Target{}, fmt.Errorf("invalid host %q: missing ']'", s)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return Target{}, fmt.Errorf("invalid host %q", s)
			}
			portStr = rest[1:]
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return Target{}, fmt.Errorf("invalid IPv6 address %q", host)
		}
	case strings.Count(s, ":") == 1:
		host, portStr, _ = strings.Cut(s, ":")
	case strings.Count(s, ":") > 1:
		if _, err := netip.ParseAddr(s); err != nil {
			return Target{}, fmt.Errorf("invalid host %q", s)
		}
	}
	t := Target{Host: host}
	if portStr != "" || strings.HasSuffix(s, ":") {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 {
			return Target{}, fmt.Errorf("invalid port %q in %q (want 1-65535)", portStr, s)
		}
		t.Port = p
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return t, nil
	}
	if err := ValidateHostname(host); err != nil {
		return Target{}, err
	}
	return t, nil
}

// ValidateHostname checks a DNS name (RFC 1123 labels, at most 253 characters).
func ValidateHostname(h string) error {
	if len(h) == 0 || len(h) > 253 {
		return fmt.Errorf("invalid host name %q: length", h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if len(label) == 0 || len(label) > 63 {
			return fmt.Errorf("invalid host name %q: empty or over-long label", h)
		}
		for i, c := range label {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				c == '-' && i > 0 && i < len(label)-1 || c == '_'
			if !ok {
				return fmt.Errorf("invalid host name %q", h)
			}
		}
	}
	return nil
}
