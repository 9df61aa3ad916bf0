package krbseal

import (
	"errors"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
)

// TestExplain: each field failure of kerberos.md §5 gets its own reason and
// a fix, and counts as the right kind of failure.
func TestExplain(t *testing.T) {
	gokrb5 := func(s string) error { return errors.New("[Root cause: KDC_Error] KDC_Error: " + s) }
	for _, c := range []struct {
		err        error
		reason     string
		fixMention string
		kind       error
	}{
		{gokrb5("TGS Exchange Error: KRB Error: (37) KRB_AP_ERR_SKEW Clock skew too great"), "clock skew too great", "clocks", model.ErrAuth},
		{gokrb5("KRB Error: (7) KDC_ERR_S_PRINCIPAL_UNKNOWN Server not found in Kerberos database"), ReasonUnknownSPN + " HTTP/win1", "setspn -Q HTTP/win1", model.ErrAuth},
		{gokrb5("KRB Error: (6) KDC_ERR_C_PRINCIPAL_UNKNOWN Client not found"), "unknown user principal", "--user", model.ErrAuth},
		{gokrb5("KRB Error: (14) KDC_ERR_ETYPE_NOSUPP KDC has no support for encryption type"), "encryption type not supported", "msDS-SupportedEncryptionTypes", model.ErrAuth},
		{gokrb5("KRB Error: (24) KDC_ERR_PREAUTH_FAILED Pre-authentication information was invalid"), "pre-authentication failed", "password or keytab", model.ErrAuth},
		{gokrb5("AS Exchange Error: AS_REP is not valid or client password/keytab incorrect"), "pre-authentication failed", "password or keytab", model.ErrAuth},
		{gokrb5("KRB Error: (18) KDC_ERR_CLIENT_REVOKED Clients credentials have been revoked"), "account disabled or locked out", "unlock", model.ErrAuth},
		{gokrb5("KRB Error: (93) KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS"), "FAST (Kerberos armoring) required", "armoring", model.ErrAuth},
		{gokrb5("KDC did not respond appropriately to FAST negotiation"), "FAST negotiation failed", "armoring", model.ErrAuth},
		{gokrb5("failed to communicate with KDC. Attempts made with TCP (dial tcp 10.0.0.1:88: connect: connection refused)"), ReasonKDCUnreachable, "TCP/UDP 88", model.ErrUnreachable},
		{&HostError{Code: 41}, "host could not decrypt the ticket", "HTTP/{fqdn}:{port}", model.ErrAuth},
		{&HostError{Code: 35}, "host is not the computer the ticket is for", "DNS", model.ErrAuth},
		{ErrEncType, "encryption type not supported", "RC4", model.ErrAuth},
		{ErrMutual, "host failed mutual authentication", "SPN", model.ErrAuth},
	} {
		err := Explain(c.err, "HTTP/win1")
		var f *Failure
		if !errors.As(err, &f) || f.Reason != c.reason || !strings.Contains(f.Fix, c.fixMention) || !errors.Is(err, c.kind) || !errors.Is(err, c.err) {
			t.Errorf("Explain(%v) = %v; want reason %q, fix mentioning %q, kind %v", c.err, err, c.reason, c.fixMention, c.kind)
		}
	}
	if err := Explain(errors.New("something else"), ""); !errors.Is(err, model.ErrAuth) {
		t.Errorf("unknown error: %v, want ErrAuth", err)
	}
	if Explain(nil, "") != nil {
		t.Error("Explain(nil) != nil")
	}
}
