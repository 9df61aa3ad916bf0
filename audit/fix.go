package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// The fix pass: plan from the findings, apply over the remote actions with
// a journal, re-collect the hosts changed and verify every action at the
// source (design.md, Remediation). It only ever backs up existing
// recovery-password protectors, or (where the policy allows) adds one and
// backs it up; it never removes, rotates, suspends or decrypts anything.

// ActionKind is what an action does.
type ActionKind string

// Action kinds.
const (
	// ActionBackup backs a recovery password up to AD DS or Entra ID, or
	// exports it, age-encrypted, to the external key store.
	ActionBackup ActionKind = "backup"
	// ActionAddRecoveryPassword adds one recovery-password protector; a
	// backup of the new protector follows as its own action.
	ActionAddRecoveryPassword ActionKind = "add-recovery-password"
)

// Rules the fix pass acts on (rules/builtin.go IDs).
const (
	ruleEscrowMissing  = "escrow.missing"
	ruleEscrowClaimed  = "escrow.claimed-missing"
	ruleEscrowPartial  = "escrow.partial"
	ruleEscrowStale    = "escrow.stale-only"
	ruleNoRecovery     = "recovery.no-password"
	ruleEscrowUnverify = "escrow.unverified"
)

// FixableRules lists the rule IDs --fix=RULE,... accepts.
var FixableRules = []string{ruleEscrowMissing, ruleEscrowClaimed, ruleEscrowPartial, ruleEscrowStale, ruleNoRecovery}

// An Action is one change the fix pass may make on one host.
type Action struct {
	// ID is stable across runs: the same change on the same host has the
	// same ID, so a rerun recognises it in the journal.
	ID          string
	Kind        ActionKind
	Target      model.Target
	Volume      string
	ProtectorID string
	Location    model.Location
	RuleID      string
	// Skip, when set, says why the action is not applied.
	Skip string
	// BackupTo is, for add-recovery-password, where the new protector is
	// then backed up (each its own action).
	BackupTo []model.Location
}

// actionID derives an action's ID from what it changes.
func actionID(t model.Target, kind ActionKind, volume, protector string, loc model.Location) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{t.Key(), string(kind), strings.ToUpper(volume), model.NormalizeProtectorID(protector), string(loc)}, "|")))
	return hex.EncodeToString(sum[:8])
}

// A Plan is what a fix pass would do: Actions are applied, Skipped are not
// (each with its reason).
type Plan struct {
	Actions []Action
	Skipped []Action
}

// FixPolicy is what the plan needs from the policy.
type FixPolicy interface {
	// AcceptedLocations: where a recovery password of this kind of volume
	// on a host in this join state must be held, and whether at all of them.
	AcceptedLocations(js model.JoinState, vt model.VolumeType) ([]model.Location, bool)
}

// PlanOptions shape a plan.
type PlanOptions struct {
	Policy FixPolicy
	// Rules limits the plan to findings of these rule IDs (--fix=RULE,...);
	// empty means every fixable rule.
	Rules []string
	// AddRecoveryPassword: the policy allows adding a recovery password
	// to a volume without one.
	AddRecoveryPassword bool
	// Export: the policy names age recipients for the external key store.
	Export bool
	// Identity decides whether a host's identity is confirmed; only
	// confirmed hosts are changed. Nil uses [IdentityConfirmed].
	Identity func(t model.Target, h *model.HostResult) (bool, string)
	// Validate checks an action's values as the remediator will (nil:
	// none); a refused action is skipped, so nothing is sent for it.
	Validate func(a Action) error
	// Journal is what earlier runs with the same output directory did.
	Journal map[string]JournalEntry
}

// IdentityConfirmed is the default identity check. When escrow
// verification judged the target's identity, its verdict stands: only
// "verified" is confirmed. Otherwise the operator's own record of the host
// (the target's DNS name, the targets file's fqdn, ad_dn and
// entra_device_id) must name what the host reports; an IP-only target
// without them is not confirmed.
func IdentityConfirmed(t model.Target, h *model.HostResult) (bool, string) {
	if h.Facts == nil {
		return false, "host not audited"
	}
	if id := h.Identity; id != nil && id.State != "" {
		if id.State == model.IdentityVerified {
			return true, ""
		}
		return false, "identity " + string(id.State) + ": " + orNone(id.Reason, "not confirmed by a directory")
	}
	if !t.HasIdentity() {
		return false, "identity not confirmed: the target is an IP address and the targets file gives no fqdn, ad_dn or entra_device_id for it"
	}
	f := h.Facts
	if want := t.DNSName(); want != "" {
		short, _, _ := strings.Cut(want, ".")
		if !strings.EqualFold(want, f.FQDN) && !(f.FQDN == "" && strings.EqualFold(short, f.Hostname)) {
			return false, fmt.Sprintf("identity not confirmed: the targets file names %s, the host reports %s", want, orNone(f.FQDN, f.Hostname))
		}
	}
	if name := t.Identity().GivenName(); name != "" && !strings.EqualFold(name, f.Hostname) {
		return false, fmt.Sprintf("identity not confirmed: the targets file names computer %s, the host reports %s", name, orNone(f.Hostname))
	}
	if t.EntraDeviceID != "" && model.NormalizeProtectorID(t.EntraDeviceID) != model.NormalizeProtectorID(f.Join.EntraDeviceID) {
		return false, "identity not confirmed: the host's Entra deviceId differs from the targets file's entra_device_id"
	}
	return true, ""
}

func orNone(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return "no name"
}

// Planned reports whether BuildPlan may plan for h: an audited host with
// a finding the fix pass acts on. A caller holding many hosts passes
// BuildPlan these (and those its journal names) alone.
func Planned(h *model.HostResult) bool {
	if !h.Status.Audited() || h.Facts == nil {
		return false
	}
	return slices.ContainsFunc(h.Findings, func(f model.Finding) bool {
		return slices.Contains(FixableRules, f.RuleID) || f.RuleID == ruleEscrowUnverify
	})
}

// BuildPlan derives the plan from audited hosts and their findings. targets
// maps each host's Target string to its target. It changes nothing.
func BuildPlan(hosts []model.HostResult, targets map[string]model.Target, o PlanOptions) Plan {
	if o.Identity == nil {
		o.Identity = IdentityConfirmed
	}
	var p Plan
	seen := map[string]bool{}
	add := func(a Action) {
		if seen[a.ID] {
			return
		}
		seen[a.ID] = true
		if a.Skip == "" && o.Validate != nil {
			if err := o.Validate(a); err != nil {
				a.Skip = "refused: " + err.Error()
			}
		}
		if a.Skip == "" {
			if e, ok := o.Journal[a.ID]; ok && e.Outcome != nil && e.Outcome.Result == ResultDone {
				a.Skip = "done in an earlier run (" + JournalName + ", " + e.Outcome.Time.UTC().Format(time.RFC3339) + ") yet not verified at the source now: check the source"
			}
		}
		if a.Skip != "" {
			p.Skipped = append(p.Skipped, a)
		} else {
			p.Actions = append(p.Actions, a)
		}
	}
	for i := range hosts {
		h := &hosts[i]
		if !h.Status.Audited() || h.Facts == nil {
			continue
		}
		t, ok := targets[h.Target]
		if !ok {
			continue
		}
		idOK, idWhy := o.Identity(t, h)
		for _, f := range h.Findings {
			if !slices.Contains(FixableRules, f.RuleID) && f.RuleID != ruleEscrowUnverify {
				continue
			}
			if len(o.Rules) > 0 && !slices.Contains(o.Rules, f.RuleID) {
				continue
			}
			v := volumeOf(h, f.Volume)
			if v == nil {
				continue
			}
			skip := ""
			switch {
			case f.Waived():
				skip = "finding waived (" + f.Waiver.ID + ")"
			case !idOK:
				skip = idWhy
			case v.Locked:
				skip = "volume is locked"
			}
			if f.RuleID == ruleNoRecovery {
				a := Action{Kind: ActionAddRecoveryPassword, Target: t, Volume: v.MountPoint, RuleID: f.RuleID, Skip: skip}
				a.ID = actionID(t, a.Kind, a.Volume, "", "")
				switch {
				case a.Skip != "":
				case !v.Encrypted():
					a.Skip = "volume is not encrypted"
				case !o.AddRecoveryPassword:
					a.Skip = "policy does not allow adding a recovery password (remediation.add_recovery_password)"
				}
				if a.Skip == "" {
					// Add only a password that can then be backed up: an
					// unescrowed recovery password is worse than none.
					probe := model.Protector{ID: "{00000000-0000-4000-8000-000000000000}", Type: model.ProtectorRecoveryPassword}
					for _, loc := range model.Locations {
						probe.Backups = append(probe.Backups, model.Backup{Location: loc, State: model.BackupMissing})
					}
					var why []string
					for _, b := range backupActions(h, t, v, probe, f.RuleID, o) {
						if b.Skip != "" {
							why = append(why, string(b.Location)+": "+b.Skip)
						} else {
							a.BackupTo = append(a.BackupTo, b.Location)
						}
					}
					if len(a.BackupTo) == 0 {
						a.Skip = "no accepted location could hold the new recovery password's backup (" + strings.Join(why, "; ") + ")"
					}
				}
				add(a)
				continue
			}
			for _, pr := range v.RecoveryPasswords() {
				if f.ProtectorID != "" && !strings.EqualFold(f.ProtectorID, pr.ID) {
					continue
				}
				for _, a := range backupActions(h, t, v, pr, f.RuleID, o) {
					if a.Skip == "" {
						a.Skip = skip
					}
					add(a)
				}
			}
		}
	}
	return p
}

// volumeOf returns h's volume at mount point mp.
func volumeOf(h *model.HostResult, mp string) *model.Volume {
	for i := range h.Volumes {
		if strings.EqualFold(h.Volumes[i].MountPoint, mp) {
			return &h.Volumes[i]
		}
	}
	return nil
}

// backupActions returns the backups of protector p that would bring it to
// an accepted location: all of them when the policy requires all, else the
// first the host can reach. Locations already verified need nothing.
func backupActions(h *model.HostResult, t model.Target, v *model.Volume, p model.Protector, rule string, o PlanOptions) []Action {
	join := h.Facts.Join
	locs, all := o.Policy.AcceptedLocations(joinState(h), v.Type)
	state := map[model.Location]model.Backup{}
	for _, b := range p.Backups {
		state[b.Location] = b
	}
	var out, skipped []Action
	for _, loc := range locs {
		b := state[loc]
		if b.State == model.BackupVerified {
			if !all {
				return nil
			}
			continue
		}
		a := Action{Kind: ActionBackup, Target: t, Volume: v.MountPoint, ProtectorID: p.ID, Location: loc, RuleID: rule}
		a.ID = actionID(t, a.Kind, a.Volume, a.ProtectorID, loc)
		switch {
		case loc == model.LocationAD && !join.InAD():
			a.Skip = "not joined to AD DS"
		case loc == model.LocationEntra && !join.InEntra():
			a.Skip = "not joined to Entra ID"
		case loc == model.LocationAD && !adBackupAllowed(h.Facts.Policy, v.Type):
			a.Skip = "the host's BitLocker group policy does not allow backup to AD DS (" + policyPrefix(v.Type) + "ActiveDirectoryBackup is not 1), so the backup method would return S_FALSE"
		case loc == model.LocationEntra && lastEntraFailure(h.Facts.Events, v.MountPoint, p.ID) != "":
			a.Skip = "the host's last Entra ID backup of this volume failed (event 846, error " + lastEntraFailure(h.Facts.Events, v.MountPoint, p.ID) + "): fix the device's connection to Entra ID first"
		case loc == model.LocationExternal && !o.Export:
			a.Skip = "policy names no age recipients for the external key store (remediation.external_recipients)"
		case b.State != model.BackupMissing:
			a.Skip = "the source could not be checked (" + orNone(b.Reason, string(b.State)) + "), so a backup could not be verified"
		}
		if a.Skip != "" {
			skipped = append(skipped, a)
			continue
		}
		out = append(out, a)
		if !all {
			return out
		}
	}
	if len(out) == 0 {
		return skipped
	}
	return out
}

// adBackupAllowed reports whether the FVE policy lets a volume of type vt
// be backed up to AD DS: "Save BitLocker recovery information to AD DS"
// for its drive type, or the legacy Vista/2008 setting (bitlocker.md §6).
// Without it BackupRecoveryInformationToActiveDirectory returns S_FALSE (§1.2).
func adBackupAllowed(policy map[string]int64, vt model.VolumeType) bool {
	return policy[policyPrefix(vt)+"ActiveDirectoryBackup"] == 1 || policy["ActiveDirectoryBackup"] == 1
}

func policyPrefix(vt model.VolumeType) string {
	switch vt {
	case model.VolumeOS:
		return "OS"
	case model.VolumeFixed:
		return "FDV"
	}
	return "RDV"
}

// lastEntraFailure returns the error code of event 846 when it is the
// latest Entra ID backup event for the volume (845 for this protector, or
// 846 for the mount point), else "".
func lastEntraFailure(events []model.BackupEvent, mount, id string) string {
	var last *model.BackupEvent
	for i := range events {
		e := &events[i]
		switch {
		case e.ID == 845 && model.NormalizeProtectorID(e.ProtectorID) == model.NormalizeProtectorID(id):
		case e.ID == 846 && strings.EqualFold(e.MountPoint, mount):
		default:
			continue
		}
		if last == nil || e.Time.After(last.Time) {
			last = e
		}
	}
	if last == nil || last.ID != 846 {
		return ""
	}
	return orNone(last.ErrorCode, "unknown")
}

func joinState(h *model.HostResult) model.JoinState {
	if h.Facts == nil || h.Facts.Join.State == "" {
		return model.JoinUnknown
	}
	return h.Facts.Join.State
}

// A Remediator carries out remote actions on a host. Every method validates
// its values before building a command and returns an error wrapping one of
// the Err*Action sentinels it is given in [ApplyOptions].
type Remediator interface {
	BackupToAD(ctx context.Context, t model.Target, mount, id string) error
	BackupToEntra(ctx context.Context, t model.Target, mount, id string) error
	AddRecoveryPassword(ctx context.Context, t model.Target, mount string) (string, error)
}

// An Exporter writes a host's recovery password, encrypted, to the
// external key store; it reads the password from the host itself.
type Exporter interface {
	Export(ctx context.Context, t model.Target, h *model.HostResult, mount, id string) (object string, err error)
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Concurrency bounds how many hosts are changed at once (default 8).
	// Actions on one host run one after another.
	Concurrency int
	// ActionTimeout bounds one action (default 2m).
	ActionTimeout time.Duration
	// Unknown classifies an error as "the command reached the host, the
	// outcome is unknown"; nil treats every error as a failure.
	Unknown  func(error) bool
	Exporter Exporter
	Journal  *Journal
	RunID    string
	Logger   *slog.Logger
	Now      func() time.Time
}

// An Applied action is an action with what the host said.
type Applied struct {
	Action
	Result string // ResultDone, ResultFailed, ResultUnknown
	Err    error
	Time   time.Time
	// NewProtectorID is set by add-recovery-password.
	NewProtectorID string
	// Object is where an export was written.
	Object string
}

// Apply carries out the plan's actions: for each, an intent is journalled
// and synced before anything is sent, and the outcome after. When ctx is
// cancelled no further action starts; actions already sent run to their
// end (bounded by ActionTimeout) and are journalled. hosts gives the
// audited state exporters need. A journal write failure stops the pass:
// no action is sent without its intent on disk.
func Apply(ctx context.Context, r Remediator, plan Plan, hosts map[string]*model.HostResult, o ApplyOptions) ([]Applied, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.ActionTimeout <= 0 {
		o.ActionTimeout = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Unknown == nil {
		o.Unknown = func(error) bool { return false }
	}
	// Group by host: one host's actions run in order.
	var order []string
	byHost := map[string][]Action{}
	for _, a := range plan.Actions {
		k := a.Target.String()
		if _, ok := byHost[k]; !ok {
			order = append(order, k)
		}
		byHost[k] = append(byHost[k], a)
	}
	var (
		mu      sync.Mutex
		out     []Applied
		journal error
		wg      sync.WaitGroup
	)
	stopped := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return journal != nil || ctx.Err() != nil
	}
	next := make(chan string)
	for range min(o.Concurrency, len(order)) {
		wg.Go(func() {
			for k := range next {
				queue := byHost[k]
				for len(queue) > 0 {
					if stopped() {
						break
					}
					a := queue[0]
					queue = queue[1:]
					res, err := applyOne(context.WithoutCancel(ctx), r, a, hosts[k], o)
					mu.Lock()
					if err != nil && journal == nil {
						journal = err
					}
					if res != nil {
						out = append(out, *res)
						if res.Kind == ActionAddRecoveryPassword && res.Result == ResultDone {
							// Back the new protector up where the volume's
							// recovery passwords belong: the host's join.
							queue = append(followUps(res), queue...)
						}
					}
					mu.Unlock()
				}
			}
		})
	}
feed:
	for _, k := range order {
		select {
		case next <- k:
		case <-ctx.Done():
			break feed
		}
		if stopped() {
			break
		}
	}
	close(next)
	wg.Wait()
	return out, journal
}

// followUps are the backups of a protector an add-recovery-password action
// created, to the locations the plan chose for it.
func followUps(res *Applied) []Action {
	var out []Action
	for _, loc := range res.BackupTo {
		a := Action{Kind: ActionBackup, Target: res.Target, Volume: res.Volume, ProtectorID: res.NewProtectorID, Location: loc, RuleID: res.RuleID}
		a.ID = actionID(a.Target, a.Kind, a.Volume, a.ProtectorID, loc)
		out = append(out, a)
	}
	return out
}

// applyOne journals, runs and journals one action. It returns a nil
// Applied only when the intent could not be journalled (nothing was sent).
func applyOne(ctx context.Context, r Remediator, a Action, h *model.HostResult, o ApplyOptions) (*Applied, error) {
	rec := JournalRecord{Record: RecordIntent, Action: a.ID, Run: o.RunID, Kind: a.Kind, Host: a.Target.String(),
		Volume: a.Volume, ProtectorID: a.ProtectorID, Location: a.Location, Time: o.Now().UTC()}
	if o.Journal != nil {
		if err := o.Journal.Write(rec); err != nil {
			return nil, err
		}
	}
	actx, cancel := context.WithTimeout(ctx, o.ActionTimeout)
	defer cancel()
	res := &Applied{Action: a}
	var err error
	switch {
	case a.Kind == ActionAddRecoveryPassword:
		res.NewProtectorID, err = r.AddRecoveryPassword(actx, a.Target, a.Volume)
	case a.Location == model.LocationAD:
		err = r.BackupToAD(actx, a.Target, a.Volume, a.ProtectorID)
	case a.Location == model.LocationEntra:
		err = r.BackupToEntra(actx, a.Target, a.Volume, a.ProtectorID)
	case a.Location == model.LocationExternal && o.Exporter != nil:
		res.Object, err = o.Exporter.Export(actx, a.Target, h, a.Volume, a.ProtectorID)
	default:
		err = errors.New("no way to back up to " + string(a.Location))
	}
	res.Time = o.Now().UTC()
	res.Err = err
	switch {
	case err == nil:
		res.Result = ResultDone
	case o.Unknown(err):
		res.Result = ResultUnknown
	default:
		res.Result = ResultFailed
	}
	o.Logger.Info("fix action", "target", rec.Host, "action", a.Kind, "volume", a.Volume, "protector", a.ProtectorID,
		"location", a.Location, "result", res.Result, "err", err)
	out := rec
	out.Record, out.Time, out.Result, out.NewProtectorID = RecordOutcome, res.Time, res.Result, res.NewProtectorID
	if err != nil {
		out.Error = err.Error()
	}
	if o.Journal != nil {
		if jerr := o.Journal.Write(out); jerr != nil {
			return res, jerr
		}
	}
	return res, nil
}

// Verification outcomes of an applied action.
const (
	OutcomePlanned    = "planned"
	OutcomeSkipped    = "skipped"
	OutcomeFixed      = "fixed"
	OutcomeFailed     = "failed"
	OutcomeUnverified = "unverified"
	OutcomeUnknown    = "unknown"
)

// Verify decides each applied action's outcome from the hosts as
// re-collected and re-verified after the fix: fixed when the source now
// holds the protector at the action's location, failed when the host
// refused it (with the error), otherwise unverified (with why).
func Verify(applied []Applied, after map[string]*model.HostResult) []model.RemediationEntry {
	out := make([]model.RemediationEntry, 0, len(applied))
	for _, a := range applied {
		e := entry(a.Action)
		e.Time = a.Time
		h := after[a.Target.String()]
		switch {
		case a.Kind == ActionAddRecoveryPassword:
			switch {
			case a.Result == ResultFailed:
				e.Outcome, e.Detail = OutcomeFailed, a.Err.Error()
			case h != nil && hasProtector(h, a.Volume, a.NewProtectorID):
				e.Outcome, e.Verified, e.ProtectorID = OutcomeFixed, true, a.NewProtectorID
				e.Detail = "recovery password " + a.NewProtectorID + " added; its backup is a separate action"
			default:
				e.Outcome, e.Detail = OutcomeUnverified, "the re-audit does not show the new protector"
				if a.Err != nil {
					e.Detail += ": " + a.Err.Error()
				}
			}
		default:
			b, ok := backupAfter(h, a.Volume, a.ProtectorID, a.Location)
			switch {
			case ok && b.State == model.BackupVerified:
				e.Outcome, e.Verified = OutcomeFixed, true
				e.Detail = "verified at the source: " + orNone(b.Object, b.Reason)
				if a.Result == ResultUnknown {
					e.Detail = "the host's answer was lost (" + a.Err.Error() + "); " + e.Detail
				}
			case a.Result == ResultFailed:
				e.Outcome, e.Detail = OutcomeFailed, a.Err.Error()
			case !ok:
				e.Outcome, e.Detail = OutcomeUnverified, "the re-audit of the host did not report this protector"
			default:
				e.Outcome, e.Detail = OutcomeUnverified, "not held at the source after the fix: "+orNone(b.Reason, string(b.State))
				if a.Err != nil {
					e.Detail += " (" + a.Err.Error() + ")"
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// entry is an action as the result's remediation log records it.
func entry(a Action) model.RemediationEntry {
	return model.RemediationEntry{ActionID: a.ID, RuleID: a.RuleID, Target: a.Target.String(), Volume: a.Volume,
		ProtectorID: a.ProtectorID, Action: string(a.Kind), Location: a.Location}
}

// PlanEntries records a plan that was not applied: actions planned, the
// rest skipped with their reasons.
func PlanEntries(p Plan, now time.Time) []model.RemediationEntry {
	var out []model.RemediationEntry
	for _, a := range p.Actions {
		e := entry(a)
		e.Outcome, e.Time = OutcomePlanned, now
		out = append(out, e)
	}
	return append(out, SkippedEntries(p, now)...)
}

// SkippedEntries records the plan's skipped actions.
func SkippedEntries(p Plan, now time.Time) []model.RemediationEntry {
	var out []model.RemediationEntry
	for _, a := range p.Skipped {
		e := entry(a)
		e.Outcome, e.Detail, e.Time = OutcomeSkipped, a.Skip, now
		out = append(out, e)
	}
	return out
}

// Interrupted reports, for actions an earlier run journalled without an
// outcome and this run did not plan again, what the current audit shows:
// fixed when the source holds the key now, failed when the source was
// checked and lacks it, unverified when it could not be checked, and
// unknown while the host could not be audited again.
func Interrupted(journal map[string]JournalEntry, order []string, planned map[string]bool, hosts map[string]*model.HostResult, now time.Time) []model.RemediationEntry {
	var out []model.RemediationEntry
	for _, id := range order {
		e := journal[id]
		if !e.Interrupted() || planned[id] {
			continue
		}
		in := e.Intent
		re := model.RemediationEntry{ActionID: id, Target: in.Host, Volume: in.Volume, ProtectorID: in.ProtectorID,
			Action: string(in.Kind), Location: in.Location, Time: now, Outcome: OutcomeUnknown,
			Detail: "an earlier run was interrupted during this action (" + JournalName + ", " + in.Time.UTC().Format(time.RFC3339) + ")"}
		h := hosts[in.Host]
		if in.Kind == ActionBackup {
			b, ok := backupAfter(h, in.Volume, in.ProtectorID, in.Location)
			switch {
			case ok && b.State == model.BackupVerified:
				re.Outcome, re.Verified = OutcomeFixed, true
				re.Detail += "; verified at the source now: " + orNone(b.Object, b.Reason)
			case ok && b.State == model.BackupMissing:
				re.Outcome = OutcomeFailed
				re.Detail += "; the source was checked now and does not hold the key (" + orNone(b.Reason, "missing") + ")"
			case ok:
				re.Outcome = OutcomeUnverified
				re.Detail += "; the source could not be checked now: " + orNone(b.Reason, string(b.State))
			}
		} else if h != nil && h.Status.Audited() {
			if v := volumeOf(h, in.Volume); v != nil && len(v.RecoveryPasswords()) > 0 {
				re.Outcome, re.Detail = OutcomeFixed, re.Detail+"; the volume has a recovery password now"
				re.Verified = true
			}
		}
		out = append(out, re)
	}
	return out
}

func hasProtector(h *model.HostResult, mount, id string) bool {
	v := volumeOf(h, mount)
	if v == nil {
		return false
	}
	return slices.ContainsFunc(v.Protectors, func(p model.Protector) bool { return strings.EqualFold(p.ID, id) })
}

func backupAfter(h *model.HostResult, mount, id string, loc model.Location) (model.Backup, bool) {
	if h == nil {
		return model.Backup{}, false
	}
	v := volumeOf(h, mount)
	if v == nil {
		return model.Backup{}, false
	}
	for _, p := range v.Protectors {
		if !strings.EqualFold(p.ID, id) {
			continue
		}
		for _, b := range p.Backups {
			if b.Location == loc {
				return b, true
			}
		}
		return model.Backup{Location: loc, State: model.BackupUnknown, Reason: "not checked"}, true
	}
	return model.Backup{}, false
}
