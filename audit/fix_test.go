package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bitaudit/bitaudit/model"
)

func TestJournalRoundTripAndTornLine(t *testing.T) {
	dir := t.TempDir()
	j, prev, err := OpenJournal(dir)
	if err != nil || len(prev) != 0 {
		t.Fatalf("open: %v, %d records", err, len(prev))
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	in := JournalRecord{Record: RecordIntent, Action: "a1", Kind: ActionBackup, Host: "h:5986", Volume: "C:", ProtectorID: "{X}", Location: model.LocationAD, Time: at}
	out := in
	out.Record, out.Result = RecordOutcome, ResultDone
	in2 := in
	in2.Action = "a2"
	for _, r := range []JournalRecord{in, out, in2} {
		if err := j.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	// A crash mid-write leaves half a line.
	f, _ := os.OpenFile(filepath.Join(dir, JournalName), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"record":"outcome","action":"a2","ki`)
	f.Close()

	recs, torn, err := ReadJournal(filepath.Join(dir, JournalName))
	if err != nil || !torn || len(recs) != 3 {
		t.Fatalf("read: %v torn=%v %d records", err, torn, len(recs))
	}
	order, m := Replay(recs)
	if d := cmp.Diff([]string{"a1", "a2"}, order); d != "" {
		t.Error(d)
	}
	if m["a1"].Interrupted() || !m["a2"].Interrupted() || m["a1"].Outcome.Result != ResultDone {
		t.Errorf("replay: %+v", m)
	}
	// Reopening continues on a line of its own.
	j, prev, err = OpenJournal(dir)
	if err != nil || len(prev) != 3 {
		t.Fatalf("reopen: %v, %d records", err, len(prev))
	}
	o2 := in2
	o2.Record, o2.Result = RecordOutcome, ResultFailed
	if err := j.Write(o2); err != nil {
		t.Fatal(err)
	}
	j.Close()
	recs, torn, err = ReadJournal(filepath.Join(dir, JournalName))
	if err != nil || torn || len(recs) != 4 {
		t.Fatalf("after reopen: %v torn=%v %d records", err, torn, len(recs))
	}
	// A malformed line in the middle is an error naming it.
	os.WriteFile(filepath.Join(dir, JournalName), []byte("{\"record\":\"intent\",\"action\":\"a\"}\nnot json\n"), 0o600)
	if _, _, err := ReadJournal(filepath.Join(dir, JournalName)); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("malformed journal: %v", err)
	}
}

// testPolicy accepts AD for domain hosts and Entra for Entra hosts.
type testPolicy struct{ all bool }

func (p testPolicy) AcceptedLocations(js model.JoinState, _ model.VolumeType) ([]model.Location, bool) {
	switch js {
	case model.JoinDomain:
		return []model.Location{model.LocationAD}, p.all
	case model.JoinEntra:
		return []model.Location{model.LocationEntra}, p.all
	case model.JoinHybrid:
		return []model.Location{model.LocationAD, model.LocationEntra}, p.all
	}
	return []model.Location{model.LocationExternal}, p.all
}

const rpID = "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}"

// fixHost is an audited host with one unescrowed recovery password.
func fixHost(target string, join model.JoinState, policy map[string]int64, events ...model.BackupEvent) (model.Target, model.HostResult) {
	t := model.Target{Host: target, FQDN: target}
	var backups []model.Backup
	for _, loc := range model.Locations {
		backups = append(backups, model.Backup{Location: loc, State: model.BackupMissing})
	}
	h := model.HostResult{
		Target: t.String(), Status: model.StatusNoncompliant, Identity: t.Identity(),
		Facts: &model.HostFacts{Hostname: strings.ToUpper(strings.Split(target, ".")[0]), FQDN: target, Join: model.JoinInfo{State: join, EntraDeviceID: "dev"}, Policy: policy, Events: events},
		Volumes: []model.Volume{{MountPoint: "C:", Type: model.VolumeOS, Conversion: model.FullyEncrypted, Protectors: []model.Protector{
			{ID: "{3B3E091C-ECB9-4B46-9FDD-A9E699EC3C8C}", Type: model.ProtectorTPM},
			{ID: rpID, Type: model.ProtectorRecoveryPassword, Backups: backups},
		}}},
		Findings: []model.Finding{{RuleID: ruleEscrowMissing, Volume: "C:", ProtectorID: rpID}},
	}
	return t, h
}

var adAllowed = map[string]int64{"OSActiveDirectoryBackup": 1}

func TestBuildPlan(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		host    func() (model.Target, model.HostResult)
		opts    PlanOptions
		want    []model.Location // planned
		skipped string           // substring of the one skip reason
	}{
		{name: "domain host: AD backup", host: func() (model.Target, model.HostResult) { return fixHost("ws1.corp.test", model.JoinDomain, adAllowed) },
			want: []model.Location{model.LocationAD}},
		{name: "GPO does not allow AD backup", host: func() (model.Target, model.HostResult) { return fixHost("ws1.corp.test", model.JoinDomain, nil) },
			skipped: "does not allow backup to AD DS"},
		{name: "Entra host", host: func() (model.Target, model.HostResult) { return fixHost("lt1.corp.test", model.JoinEntra, nil) },
			want: []model.Location{model.LocationEntra}},
		{name: "Entra backup failed last time (846)", host: func() (model.Target, model.HostResult) {
			return fixHost("lt1.corp.test", model.JoinEntra, nil, model.BackupEvent{ID: 846, Time: at, MountPoint: "C:", ErrorCode: "-2147012889"})
		}, skipped: "event 846, error -2147012889"},
		{name: "846 followed by 845: backed up since", host: func() (model.Target, model.HostResult) {
			return fixHost("lt1.corp.test", model.JoinEntra, nil, model.BackupEvent{ID: 846, Time: at, MountPoint: "C:"},
				model.BackupEvent{ID: 845, Time: at.Add(time.Hour), ProtectorID: strings.ToLower(strings.Trim(rpID, "{}"))})
		}, want: []model.Location{model.LocationEntra}},
		{name: "hybrid, any: the first location", host: func() (model.Target, model.HostResult) { return fixHost("h1.corp.test", model.JoinHybrid, adAllowed) },
			want: []model.Location{model.LocationAD}},
		{name: "hybrid, all: both", host: func() (model.Target, model.HostResult) { return fixHost("h1.corp.test", model.JoinHybrid, adAllowed) },
			opts: PlanOptions{Policy: testPolicy{all: true}}, want: []model.Location{model.LocationAD, model.LocationEntra}},
		{name: "workgroup without recipients", host: func() (model.Target, model.HostResult) { return fixHost("wg1", model.JoinWorkgroup, nil) },
			skipped: "no age recipients"},
		{name: "IP-only target: identity not confirmed", host: func() (model.Target, model.HostResult) {
			_, h := fixHost("ws1.corp.test", model.JoinDomain, adAllowed)
			t := model.Target{Host: "10.0.0.5"}
			h.Target, h.Identity = t.String(), t.Identity()
			return t, h
		}, skipped: "identity not confirmed"},
		{name: "identity mismatch from escrow verification", host: func() (model.Target, model.HostResult) {
			t, h := fixHost("ws1.corp.test", model.JoinDomain, adAllowed)
			h.Identity.State, h.Identity.Reason = model.IdentityMismatch, "the host reports WS9"
			return t, h
		}, skipped: "identity mismatch: the host reports WS9"},
		{name: "the host reports another name", host: func() (model.Target, model.HostResult) {
			t, h := fixHost("ws1.corp.test", model.JoinDomain, adAllowed)
			h.Facts.FQDN, h.Facts.Hostname = "ws9.corp.test", "WS9"
			return t, h
		}, skipped: "names ws1.corp.test, the host reports ws9.corp.test"},
		{name: "waived", host: func() (model.Target, model.HostResult) {
			t, h := fixHost("ws1.corp.test", model.JoinDomain, adAllowed)
			h.Findings[0].Waiver = &model.WaiverRef{ID: "W-1"}
			return t, h
		}, skipped: "waived (W-1)"},
		{name: "locked volume", host: func() (model.Target, model.HostResult) {
			t, h := fixHost("ws1.corp.test", model.JoinDomain, adAllowed)
			h.Volumes[0].Locked = true
			return t, h
		}, skipped: "locked"},
		{name: "other rules only", host: func() (model.Target, model.HostResult) { return fixHost("ws1.corp.test", model.JoinDomain, adAllowed) },
			opts: PlanOptions{Rules: []string{ruleNoRecovery}}},
		{name: "hostile protector ID refused before anything is sent", host: func() (model.Target, model.HostResult) {
			t, h := fixHost("ws1.corp.test", model.JoinDomain, adAllowed)
			bad := rpID + "'; Remove-Item C:\\ ;'"
			h.Volumes[0].Protectors[1].ID, h.Findings[0].ProtectorID = bad, bad
			return t, h
		}, opts: PlanOptions{Validate: func(a Action) error {
			if strings.ContainsAny(a.ProtectorID, "'; ") {
				return errors.New("protector ID is not a braced GUID")
			}
			return nil
		}}, skipped: "refused: protector ID is not a braced GUID"},
		{name: "done in the journal, still missing", host: func() (model.Target, model.HostResult) { return fixHost("ws1.corp.test", model.JoinDomain, adAllowed) },
			opts: PlanOptions{Journal: map[string]JournalEntry{
				actionID(model.Target{Host: "ws1.corp.test", FQDN: "ws1.corp.test"}, ActionBackup, "C:", rpID, model.LocationAD): {
					Outcome: &JournalRecord{Result: ResultDone, Time: at}}}},
			skipped: "done in an earlier run"},
		{name: "no recovery password, adding not allowed", host: func() (model.Target, model.HostResult) {
			t, h := fixHost("ws1.corp.test", model.JoinDomain, adAllowed)
			h.Volumes[0].Protectors = h.Volumes[0].Protectors[:1]
			h.Findings = []model.Finding{{RuleID: ruleNoRecovery, Volume: "C:"}}
			return t, h
		}, skipped: "does not allow adding a recovery password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, h := tt.host()
			o := tt.opts
			if o.Policy == nil {
				o.Policy = testPolicy{}
			}
			p := BuildPlan([]model.HostResult{h}, map[string]model.Target{tg.String(): tg}, o)
			var got []model.Location
			for _, a := range p.Actions {
				got = append(got, a.Location)
				if a.ID == "" || a.Target.String() != tg.String() {
					t.Errorf("action %+v", a)
				}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("planned (-want +got):\n%s", d)
			}
			switch {
			case tt.skipped == "" && len(p.Skipped) > 0:
				t.Errorf("skipped: %+v", p.Skipped)
			case tt.skipped != "" && (len(p.Skipped) != 1 || !strings.Contains(p.Skipped[0].Skip, tt.skipped)):
				t.Errorf("skipped %+v, want one mentioning %q", p.Skipped, tt.skipped)
			}
		})
	}
}

// fakeRemediator records calls and answers from a table.
type fakeRemediator struct {
	mu    sync.Mutex
	calls []string
	err   map[string]error
	block chan struct{}
}

func (f *fakeRemediator) call(what string) error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, what)
	return f.err[what]
}

func (f *fakeRemediator) BackupToAD(_ context.Context, t model.Target, mount, id string) error {
	return f.call("ad " + t.String())
}

func (f *fakeRemediator) BackupToEntra(_ context.Context, t model.Target, mount, id string) error {
	return f.call("entra " + t.String())
}

func (f *fakeRemediator) AddRecoveryPassword(_ context.Context, t model.Target, mount string) (string, error) {
	return "{11111111-2222-4333-8444-555555555555}", f.call("add " + t.String())
}

var errUnknown = errors.New("connection dropped after the command was sent")

func TestApplyJournalsAndVerifies(t *testing.T) {
	var hosts []model.HostResult
	targets := map[string]model.Target{}
	for _, name := range []string{"a.corp.test", "b.corp.test", "c.corp.test"} {
		tg, h := fixHost(name, model.JoinDomain, adAllowed)
		hosts = append(hosts, h)
		targets[tg.String()] = tg
	}
	plan := BuildPlan(hosts, targets, PlanOptions{Policy: testPolicy{}})
	if len(plan.Actions) != 3 {
		t.Fatalf("plan: %+v", plan)
	}
	dir := t.TempDir()
	j, _, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRemediator{err: map[string]error{"ad b.corp.test": errors.New("S_FALSE"), "ad c.corp.test": errUnknown}}
	index := map[string]*model.HostResult{}
	for i := range hosts {
		index[hosts[i].Target] = &hosts[i]
	}
	applied, err := Apply(t.Context(), r, plan, index, ApplyOptions{Journal: j, Unknown: func(err error) bool { return errors.Is(err, errUnknown) }})
	j.Close()
	if err != nil || len(applied) != 3 {
		t.Fatalf("apply: %v, %d applied", err, len(applied))
	}
	recs, _, _ := ReadJournal(filepath.Join(dir, JournalName))
	if len(recs) != 6 {
		t.Fatalf("%d journal records, want an intent and an outcome per action", len(recs))
	}
	seenIntent := map[string]bool{}
	for _, rec := range recs {
		switch rec.Record {
		case RecordIntent:
			seenIntent[rec.Action] = true
		case RecordOutcome:
			if !seenIntent[rec.Action] {
				t.Errorf("outcome before intent for %s", rec.Action)
			}
		}
	}
	// After the fix: a and c (its answer lost, the backup done) are held in AD.
	after := map[string]*model.HostResult{}
	for i := range hosts {
		h := hosts[i]
		h.Volumes = []model.Volume{hosts[i].Volumes[0]}
		v := &h.Volumes[0]
		v.Protectors = []model.Protector{v.Protectors[0], v.Protectors[1]}
		state := model.BackupMissing
		if h.Target != "b.corp.test" {
			state = model.BackupVerified
		}
		v.Protectors[1].Backups = []model.Backup{{Location: model.LocationAD, State: state, Object: "CN=x"}}
		after[h.Target] = &h
	}
	got := map[string]string{}
	for _, e := range Verify(applied, after) {
		got[e.Target] = e.Outcome
		if e.Outcome == OutcomeFailed && !strings.Contains(e.Detail, "S_FALSE") {
			t.Errorf("failed without its error: %+v", e)
		}
	}
	want := map[string]string{"a.corp.test": OutcomeFixed, "b.corp.test": OutcomeFailed, "c.corp.test": OutcomeFixed}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

func TestApplyStopsStartingWhenCancelled(t *testing.T) {
	var hosts []model.HostResult
	targets := map[string]model.Target{}
	for _, name := range []string{"a.corp.test", "b.corp.test", "c.corp.test", "d.corp.test"} {
		tg, h := fixHost(name, model.JoinDomain, adAllowed)
		hosts = append(hosts, h)
		targets[tg.String()] = tg
	}
	plan := BuildPlan(hosts, targets, PlanOptions{Policy: testPolicy{}})
	r := &fakeRemediator{block: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan []Applied)
	go func() {
		a, _ := Apply(ctx, r, plan, nil, ApplyOptions{Concurrency: 1})
		done <- a
	}()
	time.Sleep(50 * time.Millisecond) // the first action is running
	cancel()
	close(r.block) // it finishes; nothing else starts
	applied := <-done
	if len(applied) != 1 || applied[0].Result != ResultDone {
		t.Fatalf("applied %+v after cancel, want the one running action, done", applied)
	}
}
