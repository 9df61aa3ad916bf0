package escrow

import (
	"context"
	"fmt"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// A binding is a host's identity established before any evidence is
// credited to it: the directory objects found from the operator's identity
// of the target (never from what the host says about itself, except for a
// target with no identity, whose evidence is then only claimed), and how
// the host's own report compares with them.
type binding struct {
	id *model.Identity
	// join is the join state the sources are consulted by.
	join model.JoinState
	// ad is the computer object (nil: none, or AD not configured); adErr
	// why it could not be looked up.
	ad    *adComputer
	adErr error
	// device is the Entra deviceId whose keys count; deviceErr why the
	// device could not be looked up.
	device    string
	deviceErr error
	// folder is the host's folder in the external key store.
	folder string
	// bound: the identity is verified, so evidence may be verified;
	// credit: false on a mismatch, when no source evidence counts at all.
	bound, credit bool
}

// bind establishes h's identity (filling h.Identity) from the operator's
// identity of the target and the directory, and compares the host's report.
func (c *Checker) bind(ctx context.Context, h *model.HostResult, f *model.HostFacts) *binding {
	if h.Identity == nil {
		h.Identity = &model.Identity{}
	}
	id := h.Identity
	id.State, id.ComputerName, id.Objects, id.Join, id.Mismatches, id.Reason = "", "", nil, "", nil, ""
	b := &binding{id: id, credit: true}
	operator := id.DNSName != "" || id.ADDN != "" || id.EntraDeviceID != ""
	reported := strings.ToUpper(f.Hostname)
	given := id.GivenName()

	if c.ad != nil {
		switch {
		case operator:
			name := given
			if id.ADDN != "" {
				name = ""
			}
			b.ad, b.adErr = c.ad.computer(ctx, id.ADDN, id.DNSName, name)
		case f.FQDN != "" || reported != "":
			// No identity but the host's: looked up by its claim, capped below.
			b.ad, b.adErr = c.ad.computer(ctx, "", f.FQDN, reported)
		}
		if b.ad != nil {
			id.Objects = append(id.Objects, b.ad.dn)
		}
	}
	var dev *graphDevice
	// A host that reports itself domain-joined only, confirmed by its AD
	// object, needs no device look-up: one Graph request fewer per host.
	domainOnly := f.Join.State == model.JoinDomain && b.ad != nil && id.EntraDeviceID == ""
	if c.graph != nil && !domainOnly {
		dev, b.deviceErr = c.entraDevice(ctx, id, b.ad, given, f)
		if dev != nil {
			id.Objects = append(id.Objects, "Entra device "+dev.DeviceID)
		}
	}

	name := given
	switch {
	case b.ad != nil && operator:
		name = b.ad.name()
	case dev != nil && operator:
		name = strings.ToUpper(dev.DisplayName)
	}
	if operator {
		id.ComputerName = name
		b.compare(f, dev, reported)
	}
	switch {
	case !operator:
		id.State = model.IdentityUnverified
		id.Reason = "the target is an IP address without fqdn, ad_dn or entra_device_id: nothing independent of the host names it"
	case len(id.Mismatches) > 0:
		id.State, b.credit = model.IdentityMismatch, false
		id.Reason = "the host reports another identity than the directory holds for this target: " + strings.Join(id.Mismatches, "; ")
	case reported == "":
		// Every Windows host has a name; one that withholds it cannot be compared.
		id.State = model.IdentityUnverified
		id.Reason = "the host reports no computer name to compare with " + confirmation(b.ad, dev, id)
	case b.adErr != nil && id.ADDN != "":
		id.State = model.IdentityUnverified
		id.Reason = "the computer object " + id.ADDN + " could not be read: " + b.adErr.Error()
	case id.ADDN != "" && b.ad == nil && c.ad != nil:
		id.State = model.IdentityUnverified
		id.Reason = "AD holds no computer object at " + id.ADDN
	default:
		id.State, b.bound = model.IdentityVerified, true
		id.Reason = "the host's name matches " + confirmation(b.ad, dev, id)
	}

	// The join state the sources see wins where it says more than the host.
	dirAD := operator && b.ad != nil && !f.Join.InAD()
	dirEntra := operator && dev != nil && dev.joined() && !f.Join.InEntra()
	inAD, inEntra := f.Join.InAD() || dirAD, f.Join.InEntra() || dirEntra
	b.join = f.Join.State
	switch {
	case inAD && inEntra:
		b.join = model.JoinHybrid
	case inAD:
		b.join = model.JoinDomain
	case inEntra:
		b.join = model.JoinEntra
	case b.join == "":
		b.join = model.JoinUnknown
	}
	if dirAD || dirEntra {
		id.Join = b.join
	}

	switch {
	case dev != nil:
		b.device = dev.DeviceID
	case id.EntraDeviceID != "":
		b.device = id.EntraDeviceID
	case f.Join.EntraDeviceID != "" && (!operator || b.deviceErr != nil):
		b.device = f.Join.EntraDeviceID // the host's claim: evidence capped at claimed
	}
	b.folder = name
	if !operator {
		b.folder = reported
	}
	return b
}

// entraDevice finds the host's Entra device: by the operator's device ID,
// else by the confirmed computer name (preferring the device the host
// reports among several of that name), else, with no identity, by the
// device ID the host reports. nil when there is none.
func (c *Checker) entraDevice(ctx context.Context, id *model.Identity, ad *adComputer, given string, f *model.HostFacts) (*graphDevice, error) {
	var devs []graphDevice
	var err error
	switch {
	case id.EntraDeviceID != "":
		devs, err = c.graph.devices(ctx, "deviceId", id.EntraDeviceID)
	case ad != nil || given != "":
		name := given
		if ad != nil {
			name = ad.name()
		}
		devs, err = c.graph.devices(ctx, "displayName", name)
	case f.Join.EntraDeviceID != "":
		devs, err = c.graph.devices(ctx, "deviceId", f.Join.EntraDeviceID)
	}
	if err != nil || len(devs) == 0 {
		return nil, err
	}
	reported := model.NormalizeProtectorID(f.Join.EntraDeviceID)
	var joined []graphDevice
	for i := range devs {
		if reported != "" && model.NormalizeProtectorID(devs[i].DeviceID) == reported {
			return &devs[i], nil
		}
		if devs[i].joined() {
			joined = append(joined, devs[i])
		}
	}
	if len(joined) == 1 || id.EntraDeviceID != "" {
		return &devs[0], nil
	}
	return nil, nil // several joined devices of that name, none the host's: none is known to be it
}

// compare records every contradiction between the host's report and the
// directory objects found from the operator's identity.
func (b *binding) compare(f *model.HostFacts, dev *graphDevice, reported string) {
	id := b.id
	add := func(format string, a ...any) { id.Mismatches = append(id.Mismatches, fmt.Sprintf(format, a...)) }
	if reported != "" && id.ComputerName != "" && !strings.EqualFold(reported, id.ComputerName) {
		add("the host reports computer name %s, %s names %s", reported, confirmation(b.ad, dev, id), id.ComputerName)
	}
	if b.ad != nil && b.ad.dnsHostName != "" && f.FQDN != "" && !strings.EqualFold(strings.TrimSuffix(f.FQDN, "."), b.ad.dnsHostName) {
		add("the host reports DNS name %s, %s has dNSHostName %s", f.FQDN, b.ad.dn, b.ad.dnsHostName)
	}
	if r := model.NormalizeProtectorID(f.Join.EntraDeviceID); r != "" {
		want := id.EntraDeviceID
		if dev != nil {
			want = model.NormalizeProtectorID(dev.DeviceID)
		}
		if want != "" && r != want {
			add("the host reports Entra device %s, the target's device is %s", r, want)
		}
	}
}

// confirmation names what confirmed the computer name.
func confirmation(ad *adComputer, dev *graphDevice, id *model.Identity) string {
	switch {
	case ad != nil:
		return "the computer object " + ad.dn
	case dev != nil:
		return "the Entra device " + dev.DeviceID
	case id.DNSName != "":
		return "the target's DNS name " + id.DNSName
	}
	return "the target"
}
