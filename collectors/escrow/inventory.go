package escrow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/bitaudit/bitaudit/model"
)

// InventoryOptions choose what the directory inventory lists.
type InventoryOptions struct {
	// OUs are the containers searched (subtree); default the AD BaseDN.
	OUs []string
	// Filter is an extra LDAP filter ANDed to the computer search; default
	// "(operatingSystem=Windows*)". Set AllOS to search every computer.
	Filter string
	AllOS  bool
	// AD and Entra choose the sources; a source must also be configured.
	AD, Entra bool
	// StaleAfter: an enabled account with no logon for this long is stale
	// (default 90 days).
	StaleAfter time.Duration
	// Census also counts the recovery keys each source holds per computer.
	Census bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Progress, when set, is called as computers are read (n so far).
	Progress func(source string, n int)
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// HTTPClient is used for Graph; nil builds one as [New] does.
	HTTPClient *http.Client
}

// DefaultStaleAfter is the default stale-account window.
const DefaultStaleAfter = 90 * 24 * time.Hour

// defaultOSFilter keeps Windows computers (AD operatingSystem is
// "Windows 11 Enterprise", "Windows Server 2022 Standard", ...).
const defaultOSFilter = "(operatingSystem=Windows*)"

// A Directory is the inventory: every computer the sources list, sorted by
// name, with each computer's key census when asked for.
type Directory struct {
	Sources   []string
	Computers []model.Computer
	// Census is parallel to Computers (empty without InventoryOptions.Census).
	Census []model.Census
	// Errors are sources (or census parts) that could not be read.
	Errors []string
	// Pages counts the LDAP result pages read (for operators and tests).
	Pages int
}

// inventoryAttrs are read from AD computer objects: identity, account state
// and labels; nothing confidential.
var inventoryAttrs = []string{"cn", "dNSHostName", "sAMAccountName", "userAccountControl", "operatingSystem",
	"operatingSystemVersion", "lastLogonTimestamp", "whenCreated", "objectGUID"}

// Inventory lists the computers of the configured directories (see
// [InventoryOptions]). AD is read with paged subtree searches, one object
// at a time, holding only the small model.Computer of each; Entra ID with
// Graph's devices list, following @odata.nextLink. Hybrid-joined Entra
// devices are merged into their AD object (deviceId = objectGUID). A source
// that fails is recorded in Errors; Inventory fails only when nothing at all
// could be read, or on a bad option.
func Inventory(ctx context.Context, cfg *Config, o InventoryOptions) (*Directory, error) {
	if cfg == nil || (cfg.AD == nil && cfg.Entra == nil) {
		return nil, errors.New("inventory: the escrow config names no directory (ad or entra)")
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	if o.AD && cfg.AD == nil {
		return nil, errors.New("inventory: AD asked for, but the escrow config has no ad section")
	}
	if o.Entra && cfg.Entra == nil {
		return nil, errors.New("inventory: Entra ID asked for, but the escrow config has no entra section")
	}
	if !o.AD && !o.Entra {
		return nil, errors.New("inventory: no source chosen")
	}
	filter, err := computerFilter(o)
	if err != nil {
		return nil, err
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string, int) {}
	}
	cutoff := o.Now().Add(-o.StaleAfter)
	d := &Directory{}
	var adComputers []model.Computer
	var adKeys map[string]int
	adOK := false
	if o.AD {
		d.Sources = append(d.Sources, "ad")
		s, err := newADSource(cfg.AD, o.Logger.With("source", "ad"))
		if err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		defer s.close()
		adComputers, d.Pages, err = s.listComputers(ctx, o.OUs, filter, cutoff, o.Progress)
		if err != nil {
			d.Errors = append(d.Errors, "ad: "+err.Error())
		} else {
			adOK = true
		}
		if o.Census && adOK {
			var pages int
			adKeys, pages, err = s.keyCensus(ctx, o.OUs)
			d.Pages += pages
			if err != nil {
				d.Errors = append(d.Errors, "ad census: "+err.Error())
				adKeys = nil
			}
		}
	}
	var devices []entraDevice
	var entraKeys map[string]int
	entraOK := false
	if o.Entra {
		d.Sources = append(d.Sources, "entra")
		g, err := newGraphClient(cfg.Entra, o.HTTPClient)
		if err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		devices, err = g.listDevices(ctx, o.Progress)
		if err != nil {
			d.Errors = append(d.Errors, "entra: "+err.Error())
		} else {
			entraOK = true
		}
		if o.Census && entraOK {
			if entraKeys, err = g.keyCensus(ctx); err != nil {
				d.Errors = append(d.Errors, "entra census: "+err.Error())
				entraKeys = nil
			}
		}
	}
	if !adOK && !entraOK {
		return nil, fmt.Errorf("inventory: %s", strings.Join(d.Errors, "; "))
	}
	d.Computers = merge(adComputers, devices, o.AllOS, cutoff)
	if o.Census {
		d.Census = make([]model.Census, len(d.Computers))
		for i, c := range d.Computers {
			if c.ADDN != "" && adKeys != nil {
				n := adKeys[strings.ToLower(c.ADDN)]
				d.Census[i].ADKeys = &n
			}
			if c.EntraDeviceID != "" && entraKeys != nil {
				n := entraKeys[c.EntraDeviceID]
				d.Census[i].EntraKeys = &n
			}
		}
	}
	return d, nil
}

// computerFilter returns the extra LDAP filter, checked.
func computerFilter(o InventoryOptions) (string, error) {
	f := strings.TrimSpace(o.Filter)
	if f != "" && !strings.HasPrefix(f, "(") {
		f = "(" + f + ")"
	}
	if f != "" {
		if _, err := ldap.CompileFilter(f); err != nil {
			return "", fmt.Errorf("inventory: filter %q: %w", o.Filter, err)
		}
	}
	if !o.AllOS {
		f += defaultOSFilter
	}
	if _, err := ldap.CompileFilter("(&" + f + "(objectClass=computer))"); err != nil {
		return "", fmt.Errorf("inventory: filter %q: %w", o.Filter, err)
	}
	return f, nil
}

// paged runs a paged search on one pooled connection and hands each entry
// to fn as it arrives, so memory holds one page at a time. It returns the
// number of pages read.
func (s *adSource) paged(ctx context.Context, base, filter string, attrs []string, fn func(*ldap.Entry)) (int, error) {
	pages := 0
	err := s.with(ctx, func(c *ldap.Conn) error {
		paging := ldap.NewControlPaging(s.pageSize)
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, []ldap.Control{paging})
		for {
			res, err := c.Search(req)
			if err != nil {
				return err
			}
			pages++
			for _, e := range res.Entries {
				fn(e)
			}
			next, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
			if next == nil || len(next.Cookie) == 0 {
				return nil
			}
			if ctx.Err() != nil {
				return ctxErr(ctx)
			}
			paging.SetCookie(next.Cookie)
		}
	})
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return pages, fmt.Errorf("search base %s does not exist", base)
	}
	if err != nil {
		return pages, fmt.Errorf("ldap search %s %s: %w", base, filter, err)
	}
	return pages, nil
}

// bases returns the search bases: the OUs, or the BaseDN; an OU inside
// another is dropped, so no object is listed twice.
func (s *adSource) bases(ous []string) []string {
	if len(ous) == 0 {
		return []string{s.cfg.BaseDN}
	}
	var out []string
	for i, ou := range ous {
		inner := false
		for j, other := range ous {
			l, o := strings.ToLower(ou), strings.ToLower(other)
			if i != j && (strings.HasSuffix(l, ","+o) || l == o && j < i) {
				inner = true
			}
		}
		if !inner {
			out = append(out, ou)
		}
	}
	return out
}

// listComputers lists the computer objects under the bases matching filter.
func (s *adSource) listComputers(ctx context.Context, ous []string, filter string, cutoff time.Time, progress func(string, int)) ([]model.Computer, int, error) {
	var out []model.Computer
	pages := 0
	f := "(&(objectClass=computer)" + filter + ")"
	for _, base := range s.bases(ous) {
		n, err := s.paged(ctx, base, f, inventoryAttrs, func(e *ldap.Entry) {
			out = append(out, inventoryComputer(e, cutoff, s.log))
			progress("ad", len(out))
		})
		pages += n
		if err != nil {
			return out, pages, err
		}
	}
	return out, pages, nil
}

// inventoryComputer turns a computer object into a model.Computer.
func inventoryComputer(e *ldap.Entry, cutoff time.Time, log *slog.Logger) model.Computer {
	c := model.Computer{
		Name:      e.GetAttributeValue("cn"),
		FQDN:      strings.ToLower(e.GetAttributeValue("dNSHostName")),
		ADDN:      e.DN,
		OU:        container(e.DN),
		OS:        e.GetAttributeValue("operatingSystem"),
		OSVersion: e.GetAttributeValue("operatingSystemVersion"),
		Account:   model.ComputerEnabled,
	}
	if c.Name == "" {
		c.Name = strings.TrimSuffix(e.GetAttributeValue("sAMAccountName"), "$")
	}
	c.Name = strings.ToUpper(c.Name)
	if g := e.GetRawAttributeValue("objectGUID"); len(g) > 0 {
		if id, err := decodeGUID(g); err == nil {
			c.EntraDeviceID = id // provisional: kept only when Entra has the device
		} else {
			log.Warn("computer object with a malformed objectGUID", "dn", e.DN, "err", err)
		}
	}
	if t, err := parseGeneralizedTime(e.GetAttributeValue("whenCreated")); err == nil {
		c.Created = &t
	}
	if v := e.GetAttributeValue("lastLogonTimestamp"); v != "" {
		if t, ok := fileTime(v); ok {
			c.LastLogon = &t
		} else {
			log.Warn("computer object with a malformed lastLogonTimestamp", "dn", e.DN, "value", v)
		}
	}
	uac, err := strconv.ParseInt(e.GetAttributeValue("userAccountControl"), 10, 64)
	switch {
	case err == nil && uac&uacDisabled != 0:
		c.Account = model.ComputerDisabled
	case stale(c.LastLogon, c.Created, cutoff):
		c.Account = model.ComputerStale
	}
	return c
}

// container returns the DN of the object's container as the server wrote
// it: everything after the first RDN (an escaped comma stays in the RDN).
func container(dn string) string {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return strings.TrimSpace(dn[i+1:])
		}
	}
	return ""
}

// stale reports whether an account last seen at logon (or, never logged
// on, created at created) is older than cutoff. Without either time it is
// not stale: nothing says it is old.
func stale(logon, created *time.Time, cutoff time.Time) bool {
	switch {
	case logon != nil:
		return logon.Before(cutoff)
	case created != nil:
		return created.Before(cutoff)
	}
	return false
}

// fileTime parses an AD Integer8 time (100 ns intervals since 1601-01-01
// UTC, as lastLogonTimestamp holds: [MS-ADA1] 2.351, [MS-DTYP] 2.3.3
// FILETIME). 0 means never.
func fileTime(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	const epochDiff = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	return time.Unix(0, 0).UTC().Add(time.Duration(n-epochDiff) * 100), true
}

// keyCensus counts the msFVE-RecoveryInformation objects under each
// computer object, in one paged subtree search per base (never one search
// per computer), reading only cn: never a key. Keys are counted by the
// lower-case DN of their parent.
func (s *adSource) keyCensus(ctx context.Context, ous []string) (map[string]int, int, error) {
	counts := map[string]int{}
	pages := 0
	for _, base := range s.bases(ous) {
		n, err := s.paged(ctx, base, "(objectClass=msFVE-RecoveryInformation)", []string{"cn"}, func(e *ldap.Entry) {
			if p := container(e.DN); p != "" {
				counts[strings.ToLower(p)]++
			}
		})
		pages += n
		if err != nil {
			return nil, pages, err
		}
	}
	return counts, pages, nil
}

// An entraDevice is a Graph device, with only what the inventory needs.
type entraDevice struct {
	ID             string     `json:"id"`
	DeviceID       string     `json:"deviceId"`
	DisplayName    string     `json:"displayName"`
	OS             string     `json:"operatingSystem"`
	OSVersion      string     `json:"operatingSystemVersion"`
	AccountEnabled *bool      `json:"accountEnabled"`
	TrustType      string     `json:"trustType"`
	LastSignIn     *time.Time `json:"approximateLastSignInDateTime"`
}

// deviceSelect are the properties read ($select keeps the pages small).
const deviceSelect = "id,deviceId,displayName,operatingSystem,operatingSystemVersion,accountEnabled,trustType,approximateLastSignInDateTime"

// listDevices lists every device, following @odata.nextLink. Filtering on
// operatingSystem is done here: Graph accepts it only as an advanced query.
func (g *graphClient) listDevices(ctx context.Context, progress func(string, int)) ([]entraDevice, error) {
	var out []entraDevice
	q := url.Values{"$select": {deviceSelect}, "$top": {"999"}}
	err := pagesOf(ctx, g, devicesPath+"?"+q.Encode(), "devices", func(raw []entraDevice) {
		out = append(out, raw...)
		progress("entra", len(out))
	})
	return out, err
}

// keyCensus counts the recovery keys Entra ID holds per deviceId, listing
// every key once (id and deviceId only; never key).
func (g *graphClient) keyCensus(ctx context.Context) (map[string]int, error) {
	counts := map[string]int{}
	err := pagesOf(ctx, g, recoveryKeysPath+"?$select=id,deviceId", "recoveryKeys", func(keys []graphKey) {
		for _, k := range keys {
			counts[model.NormalizeProtectorID(k.DeviceID)]++
		}
	})
	return counts, err
}

// maxPages bounds a Graph listing; 100,000 pages of 999 devices is far
// beyond any tenant.
const maxPages = 100_000

// pagesOf GETs path and every @odata.nextLink after it, decoding each
// page's value into fn. The bearer token goes only to the Graph endpoint.
func pagesOf[T any](ctx context.Context, g *graphClient, path, what string, fn func([]T)) error {
	next := g.endpoint.String() + path
	for n := 0; next != ""; n++ {
		if n == maxPages {
			return fmt.Errorf("graph %s: more than %d pages", what, maxPages)
		}
		var page struct {
			Value    []T    `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := g.get(ctx, next, &page); err != nil {
			return fmt.Errorf("graph %s: %w", what, err)
		}
		fn(page.Value)
		next = page.NextLink
		if next != "" {
			u, err := url.Parse(next)
			if err != nil || u.Scheme != g.endpoint.Scheme || !strings.EqualFold(u.Host, g.endpoint.Host) {
				return fmt.Errorf("graph %s: nextLink leaves %s", what, g.endpoint.Host)
			}
		}
	}
	return nil
}

// merge joins AD computers and Entra devices. A Windows device whose
// deviceId equals an AD computer's objectGUID is that computer's hybrid
// device (Entra Connect syncs computer objects with objectGUID as their
// source anchor, and the hybrid device keeps it as deviceId [?]; see
// msxfaq.de/cloud/identity/sourceanchor_computer.htm); failing that, a
// ServerAd device whose name is one AD computer's name. Other Windows
// devices are Entra-only computers. AD computers keep EntraDeviceID only
// when Entra holds the device.
func merge(ad []model.Computer, devices []entraDevice, allOS bool, cutoff time.Time) []model.Computer {
	byGUID := map[string]int{}
	byName := map[string][]int{}
	for i := range ad {
		if ad[i].EntraDeviceID != "" {
			byGUID[ad[i].EntraDeviceID] = i
		}
		byName[ad[i].Name] = append(byName[ad[i].Name], i)
	}
	hybrid := make([]bool, len(ad))
	out := make([]model.Computer, 0, len(ad)+len(devices))
	for _, dv := range devices {
		if !allOS && !strings.HasPrefix(strings.ToLower(dv.OS), "windows") {
			continue
		}
		id := model.NormalizeProtectorID(dv.DeviceID)
		i, ok := byGUID[id]
		if !ok && strings.EqualFold(dv.TrustType, "ServerAd") {
			if m := byName[strings.ToUpper(dv.DisplayName)]; len(m) == 1 && !hybrid[m[0]] {
				i, ok = m[0], true
			}
		}
		if ok {
			hybrid[i] = true
			ad[i].EntraDeviceID = id
			ad[i].TrustType = dv.TrustType
			continue
		}
		c := model.Computer{
			Name: strings.ToUpper(dv.DisplayName), EntraDeviceID: id, OS: dv.OS, OSVersion: dv.OSVersion,
			LastLogon: dv.LastSignIn, TrustType: dv.TrustType, Account: model.ComputerEnabled,
		}
		switch {
		case dv.AccountEnabled != nil && !*dv.AccountEnabled:
			c.Account = model.ComputerDisabled
		case stale(dv.LastSignIn, nil, cutoff):
			c.Account = model.ComputerStale
		}
		out = append(out, c)
	}
	for i := range ad {
		if !hybrid[i] {
			ad[i].EntraDeviceID = ""
		}
		out = append(out, ad[i])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ADDN < out[j].ADDN
	})
	return out
}
