package main

import (
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/bitaudit/bitaudit/collectors/winrm"
	"github.com/bitaudit/bitaudit/collectors/winrm/krbseal"
)

// kerberosFlags are audit's Kerberos flags (--auth kerberos or negotiate).
type kerberosFlags struct {
	keytab        string
	realm         string
	kdcs          []string
	conf          string
	spnTemplate   string
	allowFallback bool
}

func (k *kerberosFlags) addFlags(f *pflag.FlagSet) {
	f.StringVar(&k.keytab, "keytab", "", "Kerberos: client keytab of --user (instead of a password); without either, the credential cache KRB5CCNAME")
	f.StringVar(&k.realm, "realm", "", "Kerberos realm (default: --user's @REALM, then krb5.conf's default_realm)")
	f.StringSliceVar(&k.kdcs, "kdc", nil, "Kerberos KDC host[:port] for the realm, instead of krb5.conf's (repeatable)")
	f.StringVar(&k.conf, "krb5-conf", "", "krb5.conf to read (default: $KRB5_CONFIG, then /etc/krb5.conf)")
	f.StringVar(&k.spnTemplate, "spn-template", winrm.DefaultSPNTemplate, "Kerberos service principal of a host, from its DNS name ({fqdn}: the host, or the targets CSV fqdn column) and {port}")
	f.BoolVar(&k.allowFallback, "allow-ntlm-fallback", false, "with --auth negotiate, use NTLM for hosts Kerberos cannot reach (no DNS name, unknown SPN, KDC unreachable); each host's result says which was used")
}

// set reports whether any Kerberos flag was given.
func (k *kerberosFlags) set() bool {
	return k.keytab != "" || k.realm != "" || len(k.kdcs) > 0 || k.conf != "" ||
		(k.spnTemplate != "" && k.spnTemplate != winrm.DefaultSPNTemplate) || k.allowFallback
}

// resolve builds the shared Kerberos login into opts. The password, if
// any, is already in opts; a keytab or the credential cache replace it.
func (k *kerberosFlags) resolve(g *globals, opts *winrm.Options) error {
	if k.allowFallback && opts.Auth != "negotiate" {
		return usageErrorf("--allow-ntlm-fallback goes with --auth negotiate")
	}
	if k.allowFallback && opts.Password.Reveal() == "" {
		return usageErrorf("--allow-ntlm-fallback needs a password (BITAUDIT_PASSWORD or --password-file) for NTLM")
	}
	conf := k.conf
	if conf == "" {
		if env := g.getenv("KRB5_CONFIG"); env != "" {
			conf, _, _ = strings.Cut(env, ":")
		} else if _, err := os.Stat("/etc/krb5.conf"); err == nil {
			conf = "/etc/krb5.conf"
		}
	}
	var ccache string
	if opts.Password.Reveal() == "" && k.keytab == "" {
		ccache = g.getenv("KRB5CCNAME")
		if ccache == "" {
			return usageErrorf("--auth %s: no credentials: set BITAUDIT_PASSWORD, use --password-file or --keytab, or kinit and set KRB5CCNAME", opts.Auth)
		}
	}
	login, err := krbseal.NewLogin(krbseal.LoginOptions{
		User: opts.User, Realm: k.realm, Password: opts.Password, KeytabPath: k.keytab,
		CCachePath: ccache, ConfigPath: conf, KDCs: k.kdcs,
	})
	if err != nil {
		return usageError(err)
	}
	opts.Kerberos = login
	opts.SPNTemplate = k.spnTemplate // "" means the collector's default
	opts.AllowNTLMFallback = k.allowFallback
	return nil
}
