package krbseal

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"

	"github.com/bitaudit/bitaudit/model"
)

// A HostError is a KRB-ERROR the WinRM host answered instead of an AP-REP.
type HostError struct {
	Code int32
	Text string
}

func (e *HostError) Error() string {
	s := "host answered " + errorcode.Lookup(e.Code)
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	return s
}

// Kerberos error codes we explain (RFC 4120 §7.5.9; MS-KILE 2.2.1 for the
// FAST ones).
const (
	codeCPrincipalUnknown = 6
	codeSPrincipalUnknown = 7
	codeETypeNoSupp       = 14
	codeClientRevoked     = 18
	codeKeyExpired        = 23
	codePreauthFailed     = 24
	codeBadIntegrity      = 31
	codeTktExpired        = 32
	codeRepeat            = 34
	codeNotUs             = 35
	codeSkew              = 37
	codeModified          = 41
	codeWrongRealm        = 68
	codeUnknownFAST       = 93
)

// Reasons other packages act on (a negotiate client falls back to NTLM on
// these, as Windows' Negotiate does).
const (
	ReasonKDCUnreachable = "KDC unreachable"
	ReasonUnknownSPN     = "unknown service principal"
)

// A Failure is a Kerberos failure explained for the audit result: a short
// reason, what to do about it, and the model sentinel it counts as.
type Failure struct {
	Reason string // e.g. "clock skew too great"
	Fix    string // what the user should change
	Kind   error  // model.ErrAuth or model.ErrUnreachable
	Err    error  // the underlying error
}

func (f *Failure) Error() string {
	return "kerberos: " + f.Reason + ": " + f.Fix + " (" + cleanKRB(f.Err) + ")"
}

// Unwrap lets errors.Is find both the sentinel and the cause.
func (f *Failure) Unwrap() []error { return []error{f.Kind, f.Err} }

var krbCode = regexp.MustCompile(`KRB Error: \((\d+)\)`)

// code finds the Kerberos error code inside err: a HostError, or gokrb5's
// "KRB Error: (N)" text (gokrb5 wraps KDC errors in strings).
func code(err error) (int32, bool) {
	var he *HostError
	if errors.As(err, &he) {
		return he.Code, true
	}
	m := krbCode.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	n, perr := strconv.Atoi(m[1])
	return int32(n), perr == nil
}

// Explain turns a login, ticket or context error into a [Failure] whose
// text says what failed and what to do; the field problems of kerberos.md
// §5 each get their own reason. Errors it does not recognise are kept,
// counted as authentication failures.
func Explain(err error, spn string) error {
	if err == nil {
		return nil
	}
	var f *Failure
	if errors.As(err, &f) {
		return err
	}
	f = &Failure{Kind: model.ErrAuth, Err: err}
	c, ok := code(err)
	switch {
	case ok && c == codeSkew:
		f.Reason, f.Fix = "clock skew too great", "synchronise the clocks of this machine, the domain controllers and the host (Kerberos allows 5 minutes)"
	case ok && c == codeSPrincipalUnknown:
		f.Reason, f.Fix = ReasonUnknownSPN+" "+spn, "the KDC has no such SPN: use the host's registered DNS name (AD dNSHostName, targets fqdn column), check `setspn -Q "+spn+"`, or set --spn-template"
	case ok && c == codeCPrincipalUnknown:
		f.Reason, f.Fix = "unknown user principal", "check --user (user@REALM; realms are upper case in AD)"
	case ok && c == codeWrongRealm:
		f.Reason, f.Fix = "wrong realm", "check --user's realm and the realm of the host's domain (krb5.conf [domain_realm])"
	case ok && c == codeETypeNoSupp:
		f.Reason, f.Fix = "encryption type not supported", "enable AES128/AES256 for the account and the host (msDS-SupportedEncryptionTypes) and in krb5.conf; RC4 is not supported"
	case ok && c == codePreauthFailed, strings.Contains(err.Error(), "client password/keytab incorrect"):
		// The second form: a KDC that does not require pre-authentication
		// answers, and the reply does not decrypt with our key.
		f.Reason, f.Fix = "pre-authentication failed", "the password or keytab is wrong for this principal (a keytab must match the account's current key version)"
	case ok && c == codeClientRevoked:
		f.Reason, f.Fix = "account disabled or locked out", "unlock or enable the audit account"
	case ok && c == codeKeyExpired:
		f.Reason, f.Fix = "password expired", "change the audit account's password"
	case ok && c == codeUnknownFAST:
		f.Reason, f.Fix = "FAST (Kerberos armoring) required", "the KDC requires FAST, which bitaudit does not support: exempt the audit account from the armoring policy"
	case ok && (c == codeModified || c == codeBadIntegrity):
		f.Reason, f.Fix = "host could not decrypt the ticket", "another account owns "+spn+" (duplicate SPN, e.g. an IIS app pool): remove the duplicate or use --spn-template 'HTTP/{fqdn}:{port}'"
	case ok && c == codeNotUs:
		f.Reason, f.Fix = "host is not the computer the ticket is for", "the address answering for "+spn+" belongs to another machine: check DNS and the targets file (a relay or a stale record)"
	case ok && c == codeTktExpired:
		f.Reason, f.Fix = "ticket expired", "renew the credential cache (kinit) or log in with a password or keytab"
	case ok && c == codeRepeat:
		f.Reason, f.Fix = "replayed authenticator", "the host saw this authenticator before; retry"
	case strings.Contains(err.Error(), "FAST negotiation"):
		f.Reason, f.Fix = "FAST negotiation failed", "the KDC's FAST armoring is not supported: exempt the audit account from the armoring policy"
	case errors.Is(err, ErrEncType):
		f.Reason, f.Fix = "encryption type not supported", "enable AES128/AES256 for the account and the host (msDS-SupportedEncryptionTypes); RC4 is not supported"
	case errors.Is(err, ErrMutual):
		f.Reason, f.Fix = "host failed mutual authentication", "the host did not prove it holds the key of "+spn+": check the SPN is registered to this computer and nobody else"
	case kdcUnreachable(err):
		f.Reason, f.Fix, f.Kind = ReasonKDCUnreachable, "check the realm's kdc entries in krb5.conf (or --kdc) and that TCP/UDP 88 to the domain controllers is open", model.ErrUnreachable
	case ok:
		f.Reason, f.Fix = "Kerberos error "+errorcode.Lookup(c), "see the Kerberos error code"
	default:
		return fmt.Errorf("kerberos: %w: %w", model.ErrAuth, err)
	}
	return f
}

func kdcUnreachable(err error) bool {
	s := err.Error()
	for _, m := range []string{"communicate with KDC", "error sending to a KDC", "error sending to KDC", "no response data from", "no KDCs defined", "communication error with KDC"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// cleanKRB shortens gokrb5's nested "[Root cause: …]" texts to their
// last, most specific part.
func cleanKRB(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "KRB Error: "); i >= 0 {
		s = s[i:]
	}
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
