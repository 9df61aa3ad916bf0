package krbseal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/bitaudit/bitaudit/model"
)

// LoginOptions say how the auditor obtains its Kerberos credentials: a
// password, a keytab or an existing credential cache, in that order of
// precedence when several are set.
type LoginOptions struct {
	// User is "user" or "user@REALM"; ignored for a credential cache,
	// whose principal is used.
	User string
	// Realm overrides the realm of User and krb5.conf's default_realm.
	Realm    string
	Password model.Secret
	// KeytabPath is a client keytab holding User's keys.
	KeytabPath string
	// CCachePath is a FILE credential cache (KRB5CCNAME, "FILE:" optional).
	CCachePath string
	// ConfigPath is krb5.conf; empty: none (then Realm and KDCs are needed).
	ConfigPath string
	// KDCs ("host" or "host:port") replace krb5.conf's KDCs for the realm.
	KDCs []string
}

// A Login is one Kerberos login shared by every host of an audit: the TGT
// is obtained once, on first use, and service tickets are cached per SPN
// by gokrb5. It is safe for concurrent use.
type Login struct {
	cl       *client.Client
	fromFile bool // a credential cache: already logged in
	// Warnings are things the user should know (a keytab readable by
	// others); never secrets.
	Warnings []string

	mu       sync.Mutex
	loggedIn bool
	err      error
}

// NewLogin checks opts and loads the configuration, keytab or credential
// cache. It does not contact the KDC.
func NewLogin(opts LoginOptions) (*Login, error) {
	cfg := config.New()
	if opts.ConfigPath != "" {
		c, err := config.Load(opts.ConfigPath)
		if err != nil {
			return nil, fmt.Errorf("kerberos: read %s: %w", opts.ConfigPath, err)
		}
		cfg = c
	}
	user, realm := opts.User, ""
	if u, r, ok := strings.Cut(user, "@"); ok {
		user, realm = u, r
	}
	if opts.Realm != "" {
		realm = opts.Realm
	}
	if realm == "" {
		realm = cfg.LibDefaults.DefaultRealm
	}
	l := &Login{}
	if opts.CCachePath != "" && opts.Password.Reveal() == "" && opts.KeytabPath == "" {
		path := strings.TrimPrefix(opts.CCachePath, "FILE:")
		if strings.Contains(path, ":") && !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("kerberos: credential cache %q is not a FILE cache (KEYRING:, KCM: and others are not supported): run kinit with KRB5CCNAME=FILE:/path", opts.CCachePath)
		}
		cc, err := credentials.LoadCCache(path)
		if err != nil {
			return nil, fmt.Errorf("kerberos: read credential cache %s: %w (run kinit first)", path, err)
		}
		if realm == "" {
			realm = cc.DefaultPrincipal.Realm
		}
		if err := addKDCs(cfg, realm, opts.KDCs); err != nil {
			return nil, err
		}
		cl, err := client.NewFromCCache(cc, cfg, client.DisablePAFXFAST(true))
		if err != nil {
			return nil, fmt.Errorf("kerberos: credential cache %s: %w", path, err)
		}
		l.cl, l.fromFile = cl, true
		return l, nil
	}
	if user == "" {
		return nil, errors.New("kerberos: no user name")
	}
	if realm == "" {
		return nil, errors.New("kerberos: no realm: give --user user@REALM, --realm, or a krb5.conf with default_realm")
	}
	if err := addKDCs(cfg, realm, opts.KDCs); err != nil {
		return nil, err
	}
	switch {
	case opts.Password.Reveal() != "":
		l.cl = client.NewWithPassword(user, realm, opts.Password.Reveal(), cfg, client.DisablePAFXFAST(true))
	case opts.KeytabPath != "":
		if fi, err := os.Stat(opts.KeytabPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
			l.Warnings = append(l.Warnings, fmt.Sprintf("keytab %s is readable by others (mode %v): it holds the audit account's keys; chmod 600 it", opts.KeytabPath, fi.Mode().Perm()))
		}
		kt, err := keytab.Load(opts.KeytabPath)
		if err != nil {
			return nil, fmt.Errorf("kerberos: read keytab %s: %w", opts.KeytabPath, err)
		}
		l.cl = client.NewWithKeytab(user, realm, kt, cfg, client.DisablePAFXFAST(true))
	default:
		return nil, errors.New("kerberos: no credentials: give a password, a keytab (--keytab) or a credential cache (KRB5CCNAME)")
	}
	return l, nil
}

// addKDCs makes sure realm has KDCs: those given replace krb5.conf's.
func addKDCs(cfg *config.Config, realm string, kdcs []string) error {
	if realm == "" {
		return errors.New("kerberos: no realm")
	}
	for i := range cfg.Realms {
		if cfg.Realms[i].Realm == realm {
			if len(kdcs) > 0 {
				cfg.Realms[i].KDC = kdcs
			}
			return nil
		}
	}
	if len(kdcs) == 0 && !cfg.LibDefaults.DNSLookupKDC {
		return fmt.Errorf("kerberos: no KDC for realm %s: add it to krb5.conf [realms] or give --kdc", realm)
	}
	cfg.Realms = append(cfg.Realms, config.Realm{Realm: realm, KDC: kdcs})
	return nil
}

// Principal names the logged-in user, for logs.
func (l *Login) Principal() string {
	return l.cl.Credentials.UserName() + "@" + l.cl.Credentials.Realm()
}

// login obtains the TGT once; a failure is remembered, so every host reports
// the same reason without asking the KDC again.
func (l *Login) login(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.loggedIn || l.fromFile {
		return nil
	}
	if l.err != nil {
		return l.err
	}
	_, err := withContext(ctx, func() (struct{}, error) { return struct{}{}, l.cl.Login() })
	if ctx.Err() != nil {
		return ctx.Err() // not remembered: another host may have time left
	}
	if err != nil {
		l.err = Explain(err, "")
		return l.err
	}
	l.loggedIn = true
	return nil
}

// ServiceTicket returns a ticket and session key for spn, logging in first
// if needed.
func (l *Login) ServiceTicket(ctx context.Context, spn string) (messages.Ticket, types.EncryptionKey, error) {
	if err := l.login(ctx); err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	type ticket struct {
		tkt messages.Ticket
		key types.EncryptionKey
	}
	t, err := withContext(ctx, func() (ticket, error) {
		tkt, key, err := l.cl.GetServiceTicket(spn)
		return ticket{tkt, key}, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return messages.Ticket{}, types.EncryptionKey{}, ctx.Err()
		}
		return messages.Ticket{}, types.EncryptionKey{}, Explain(err, spn)
	}
	return t.tkt, t.key, nil
}

// withContext runs f, returning early when ctx ends (gokrb5 takes no
// context; f then finishes in the background).
func withContext[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
