package escrow

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// Options are the Checker's dependencies.
type Options struct {
	// Logger receives warnings about sources; nil discards them.
	Logger *slog.Logger
	// HTTPClient is used for the token endpoint and Graph; nil builds one
	// trusting EntraConfig.CACertFile when set, else the system roots.
	HTTPClient *http.Client
}

// A Checker verifies recovery-key escrow at the configured sources. It is
// safe for concurrent use by many workers; create one per run, since
// computer-object lookups are cached for its lifetime.
type Checker struct {
	ad    *adSource
	adCfg *ADConfig
	graph *graphClient
	ext   *externalStore
	log   *slog.Logger
}

// New returns a Checker for cfg, which may be nil or empty: then only host
// evidence is used. Secrets are read here, from their environment variables
// or files; no source is contacted until Verify.
func New(ctx context.Context, cfg *Config, opts Options) (*Checker, error) {
	c := &Checker{log: opts.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if cfg == nil {
		return c, nil
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("escrow config: %w", err)
	}
	if cfg.AD != nil {
		s, err := newADSource(cfg.AD, c.log.With("source", "ad"))
		if err != nil {
			return nil, err
		}
		c.ad, c.adCfg = s, cfg.AD
	}
	if cfg.Entra != nil {
		g, err := newGraphClient(cfg.Entra, opts.HTTPClient)
		if err != nil {
			return nil, err
		}
		c.graph = g
	}
	if cfg.External != nil {
		c.ext = &externalStore{dir: cfg.External.Dir}
	}
	return c, nil
}

// Close releases the directory connections.
func (c *Checker) Close() error {
	if c.ad != nil {
		return c.ad.close()
	}
	return nil
}

// A heldKey is a key a source holds for the host.
type heldKey struct {
	id      string // normalised
	object  string
	created *time.Time
	vtype   model.VolumeType
}

// sourceView is what one location says about one host.
type sourceView struct {
	loc model.Location
	// skip, when set, is why the location was not checked (unknown).
	skip string
	err  error
	// subject names the host's object at the source, for reasons.
	subject string
	keys    []heldKey
	// folder is the host's folder in the external key store; bound says
	// it comes from the operator's identity, not from the host's report.
	folder string
	bound  bool
}

func (s *sourceView) find(id string) *heldKey {
	for i := range s.keys {
		if s.keys[i].id == id {
			return &s.keys[i]
		}
	}
	return nil
}

// Verify first binds the host to its identity (h.Identity: the operator's
// identity of the target checked against the directory, and the host's
// report compared with it), then fills, for every recovery-password
// protector of h.Volumes, one model.Backup per location (see the package
// documentation for the states), and each volume's StaleKeys. Evidence is
// looked up at the objects the operator's identity names, never at those
// the host names itself; a host whose identity does not match gets no
// verified backup, and one whose identity is unverified at most claimed
// ones. Earlier results for these locations are replaced, so a host can be
// verified again after remediation. Source failures are recorded as
// unknown backups, never returned.
func (c *Checker) Verify(ctx context.Context, h *model.HostResult) {
	facts := h.Facts
	if facts == nil {
		facts = &model.HostFacts{}
	}
	b := c.bind(ctx, h, facts)
	if len(h.Volumes) == 0 {
		return
	}
	current := map[string]bool{}
	for _, v := range h.Volumes {
		for _, p := range v.Protectors {
			current[model.NormalizeProtectorID(p.ID)] = true
		}
	}
	log := c.log.With("target", h.Target)
	// AD and Entra ID are asked at the same time: a host's latency is the
	// slower source's, not their sum.
	var ad, en *sourceView
	var wg sync.WaitGroup
	wg.Go(func() { ad = c.viewAD(ctx, b) })
	en = c.viewEntra(ctx, b)
	wg.Wait()
	views := []*sourceView{ad, en, c.viewExternal(b)}
	for _, sv := range views {
		if sv.err != nil {
			log.Debug("escrow source failed", "location", sv.loc, "err", sv.err)
		}
	}
	for vi := range h.Volumes {
		v := &h.Volumes[vi]
		v.StaleKeys = slices.DeleteFunc(v.StaleKeys, func(k model.EscrowedKey) bool { return slices.Contains(model.Locations, k.Location) })
		for pi := range v.Protectors {
			p := &v.Protectors[pi]
			if p.Type != model.ProtectorRecoveryPassword {
				continue
			}
			p.Backups = slices.DeleteFunc(p.Backups, func(b model.Backup) bool { return slices.Contains(model.Locations, b.Location) })
			id := model.NormalizeProtectorID(p.ID)
			for _, sv := range views {
				p.Backups = append(p.Backups, b.limit(sv, c.backup(ctx, sv, id, v, facts.Events)))
			}
		}
	}
	if !b.credit {
		return // another host's objects: their keys are not this host's stale keys
	}
	for _, sv := range views {
		if sv.skip != "" || sv.err != nil || sv.loc == model.LocationExternal {
			continue // the external store is shared: its files are nobody's stale keys
		}
		for _, k := range sv.keys {
			if current[k.id] {
				continue
			}
			v := staleVolume(h.Volumes, k.vtype)
			v.StaleKeys = append(v.StaleKeys, model.EscrowedKey{Location: sv.loc, ID: "{" + strings.ToUpper(k.id) + "}", Created: k.created, Object: k.object})
		}
	}
}

// limit caps a backup by what the binding allows: nothing verified for a
// host whose identity does not match, at most claimed for evidence found
// through the host's own claims.
func (b *binding) limit(sv *sourceView, bk model.Backup) model.Backup {
	if bk.State != model.BackupVerified {
		return bk
	}
	switch {
	case !b.credit:
		bk.State = model.BackupUnknown
		bk.Reason = joinReason("the source holds this protector ID, but not credited: the host's identity does not match the target's directory object (identity.mismatch)", bk.Reason)
	case !b.bound || !sv.bound:
		bk.State = model.BackupClaimed
		bk.Reason = joinReason("the source holds this protector ID at the object the host names itself; the target's identity is not verified, so it may be another host's", bk.Reason)
	}
	return bk
}

// staleVolume picks the volume a stale key is reported on: the first of
// type t, else the OS volume, else the first.
func staleVolume(vols []model.Volume, t model.VolumeType) *model.Volume {
	for _, want := range []model.VolumeType{t, model.VolumeOS} {
		for i := range vols {
			if vols[i].Type == want {
				return &vols[i]
			}
		}
	}
	return &vols[0]
}

func (c *Checker) viewAD(ctx context.Context, b *binding) *sourceView {
	sv := &sourceView{loc: model.LocationAD, bound: true}
	switch b.join {
	case model.JoinWorkgroup, model.JoinEntra:
		sv.skip = "not joined to AD"
		return sv
	}
	if c.ad == nil {
		return sv
	}
	switch {
	case b.adErr != nil:
		sv.err = b.adErr
		return sv
	case b.ad == nil:
		what := "the name the host reports"
		switch {
		case b.id.ADDN != "":
			what = b.id.ADDN
		case b.id.DNSName != "":
			what = b.id.DNSName + " or " + b.id.GivenName() + "$"
		}
		sv.subject = "no computer object for " + what + " under " + c.adCfg.BaseDN
		return sv
	}
	sv.subject = b.ad.dn
	objs, err := c.ad.recoveryObjects(ctx, b.ad.dn)
	if err != nil {
		sv.err = err
		return sv
	}
	for _, o := range objs {
		sv.keys = append(sv.keys, heldKey{id: o.id, object: o.dn, created: o.created, vtype: model.VolumeOS})
	}
	return sv
}

func (c *Checker) viewEntra(ctx context.Context, b *binding) *sourceView {
	sv := &sourceView{loc: model.LocationEntra, bound: true}
	switch b.join {
	case model.JoinWorkgroup, model.JoinDomain:
		sv.skip = "not joined to Entra ID"
		return sv
	}
	if c.graph == nil {
		return sv
	}
	if b.device == "" {
		if b.deviceErr != nil {
			sv.err = b.deviceErr
			return sv
		}
		sv.skip = "no Entra device known for this target (no entra_device_id, no device of its name, no deviceId from dsregcmd)"
		return sv
	}
	// A device ID only the host vouches for: its keys count as claimed.
	sv.bound = b.id.EntraDeviceID != "" || b.deviceErr == nil && slices.Contains(b.id.Objects, "Entra device "+b.device)
	sv.subject = "device " + model.NormalizeProtectorID(b.device)
	keys, err := c.graph.listKeys(ctx, b.device)
	if err != nil {
		sv.err = err
		return sv
	}
	for _, k := range keys {
		hk := heldKey{id: model.NormalizeProtectorID(k.ID), object: k.ID, vtype: k.VolumeType.modelType()}
		if !k.Created.IsZero() {
			t := k.Created.UTC()
			hk.created = &t
		}
		sv.keys = append(sv.keys, hk)
	}
	return sv
}

// viewExternal names the host's folder in the external key store: the
// confirmed computer name; only for a target without identity the name the
// host reports, whose evidence is then only claimed.
func (c *Checker) viewExternal(b *binding) *sourceView {
	return &sourceView{loc: model.LocationExternal, folder: b.folder, bound: b.bound}
}

// sourceName names a location in reasons.
var sourceName = map[model.Location]string{
	model.LocationAD:       "AD",
	model.LocationEntra:    "Entra ID",
	model.LocationExternal: "external key store",
}

// backup decides the state of one protector at one location.
func (c *Checker) backup(ctx context.Context, sv *sourceView, id string, v *model.Volume, events []model.BackupEvent) model.Backup {
	b := model.Backup{Location: sv.loc}
	claim, fail := claims(events, sv.loc, id, v.MountPoint)
	if claim != nil {
		b.Event = claim.ID
	}
	note := eventNote(claim, fail)
	name := sourceName[sv.loc]
	switch {
	case sv.skip != "":
		b.State, b.Reason = model.BackupUnknown, joinReason(sv.skip, note)
		return b
	case sv.loc == model.LocationExternal && c.ext != nil:
		file, other, err := c.ext.lookup(sv.folder, id)
		place := filepath.Join(c.ext.dir, sv.folder)
		switch {
		case err != nil:
			b.State, b.Reason = model.BackupUnknown, err.Error()
		case file != "" && !sv.bound:
			b.State, b.Object = model.BackupClaimed, file
			b.Reason = "key file in the folder of the name the host reports (" + sv.folder + "); the target's identity is not verified, so it may be another host's folder"
		case file != "":
			b.State, b.Object = model.BackupVerified, file
		case other != "":
			b.State, b.Object = model.BackupMissing, other
			b.Reason = "no key file for this protector in " + place + "; held elsewhere in the store: " + other + " (another host's place, not this host's)"
		case sv.folder == "":
			b.State, b.Reason = model.BackupMissing, "no key file for this protector in "+c.ext.dir+" (no computer name to find the host's folder by)"
		default:
			b.State, b.Reason = model.BackupMissing, "no key file for this protector in "+place
		}
		return b
	case sv.loc == model.LocationAD && c.ad == nil, sv.loc == model.LocationEntra && c.graph == nil, sv.loc == model.LocationExternal:
		if claim != nil {
			t := claim.Time
			b.State, b.Time = model.BackupClaimed, &t
			b.Reason = joinReason(name+" not configured; not verified at the source", note)
			return b
		}
		b.State, b.Reason = model.BackupUnknown, joinReason(name+" not configured", note)
		return b
	case sv.err != nil:
		b.State, b.Reason = model.BackupUnknown, joinReason(name+" could not be checked: "+sv.err.Error(), note)
		return b
	}
	if k := sv.find(id); k != nil {
		b.State, b.Object, b.Time = model.BackupVerified, k.object, k.created
		return b
	}
	b.State = model.BackupMissing
	if claim != nil {
		t := claim.Time
		b.Time = &t
	}
	reason := "not held by " + sv.subject
	if strings.HasPrefix(sv.subject, "no ") {
		reason = sv.subject
	}
	elsewhere, err := c.elsewhere(ctx, sv.loc, id)
	switch {
	case err != nil:
		reason += "; search elsewhere failed: " + err.Error()
	case elsewhere != "":
		b.Object = elsewhere
		reason += "; held by another object: " + elsewhere
	}
	b.Reason = joinReason(reason, note)
	return b
}

// elsewhere looks for a protector's key anywhere at the source: another
// (duplicate or stale) computer object in AD, another device in Entra ID.
func (c *Checker) elsewhere(ctx context.Context, loc model.Location, id string) (string, error) {
	switch loc {
	case model.LocationAD:
		keys, err := c.ad.byGUID(ctx, id)
		if err != nil || len(keys) == 0 {
			return "", err
		}
		return keys[0].dn, nil
	case model.LocationEntra:
		k, err := c.graph.getKey(ctx, id)
		if err != nil || k == nil {
			return "", err
		}
		return "recoveryKey " + k.ID + " of device " + k.DeviceID, nil
	}
	return "", nil
}

// claims returns the latest host event claiming a backup of protector id
// to loc, and the latest failure event about it (by protector ID or, for
// 846 which carries none, by mount point) unless a later success exists.
func claims(events []model.BackupEvent, loc model.Location, id, mount string) (claim, fail *model.BackupEvent) {
	for i := range events {
		e := &events[i]
		l, ok := e.Location()
		if l != loc {
			continue
		}
		pid := model.NormalizeProtectorID(e.ProtectorID)
		switch {
		case ok && pid == id:
			if claim == nil || e.Time.After(claim.Time) {
				claim = e
			}
		case !ok && (pid == id || pid == "" && mount != "" && strings.EqualFold(e.MountPoint, mount)):
			if fail == nil || e.Time.After(fail.Time) {
				fail = e
			}
		}
	}
	if claim != nil && fail != nil && !fail.Time.After(claim.Time) {
		fail = nil
	}
	return claim, fail
}

func eventNote(claim, fail *model.BackupEvent) string {
	var parts []string
	if claim != nil {
		parts = append(parts, fmt.Sprintf("host event %d on %s claims a backup", claim.ID, claim.Time.UTC().Format(time.RFC3339)))
	}
	if fail != nil {
		s := fmt.Sprintf("host event %d on %s reports a failed backup", fail.ID, fail.Time.UTC().Format(time.RFC3339))
		if fail.ErrorCode != "" {
			s += " (error " + fail.ErrorCode + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func joinReason(a, b string) string {
	return strings.Join(slices.DeleteFunc([]string{a, b}, func(s string) bool { return s == "" }), "; ")
}
