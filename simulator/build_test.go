package simulator

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bitaudit/bitaudit/simulator/windows"
)

var hostOpts = cmp.Options{
	cmp.AllowUnexported(Host{}),
	cmpopts.IgnoreFields(windows.Machine{}, "Mu"),
}

func TestBuildDeterministic(t *testing.T) {
	a, err := Build(DefaultSpec(200, 7))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(DefaultSpec(200, 7))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a, b, hostOpts); d != "" {
		t.Fatalf("same seed, different fleets (-a +b):\n%s", d)
	}
	c, err := Build(DefaultSpec(200, 8))
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(a, c, hostOpts) {
		t.Fatal("different seeds built the same fleet")
	}
}

func TestDefaultSpecMix(t *testing.T) {
	const n = 10_000
	hosts, err := Build(DefaultSpec(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]int{}
	problems := map[string]int{}
	names := map[string]bool{}
	for _, h := range hosts {
		status[h.Expect.Status]++
		for _, p := range h.Expect.Problems {
			problems[p]++
		}
		name := h.Machine.Identity().ComputerName // an impostor reports another's
		if names[name] {
			t.Errorf("duplicate computer name %s", name)
		}
		names[name] = true
	}
	pct := func(k int) float64 { return 100 * float64(k) / n }
	if c := pct(status[StatusCompliant]); c < 65 || c > 72 {
		t.Errorf("compliant = %.1f%%, want about 70%%: %v", c, status)
	}
	if u := pct(status[StatusUnreachable]); u < 2.5 || u > 3.5 {
		t.Errorf("unreachable = %.1f%%, want about 3%%", u)
	}
	for _, p := range []string{ProblemNoRecoveryPassword, ProblemEscrowMissing, ProblemEscrowClaimedNotFound, ProblemProtectionSuspended, ProblemDataVolumeDecrypted} {
		if c := pct(problems[p]); c < 2.5 {
			t.Errorf("problem %s on %.1f%% of hosts, want a typical share (>= 2.5%%)", p, c)
		}
	}
	if status[StatusAuthFailed] == 0 || status[StatusTimeout] == 0 {
		t.Errorf("default mix lacks wrong-password or hung hosts: %v", status)
	}
}

var (
	protectorIDRe = regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$`)
	deviceIDRe    = regexp.MustCompile(`^\\\\\?\\Volume\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}\\$`)
	nameRe        = regexp.MustCompile(`^(LT|WS|SRV)-\d{4,}$`)
)

// TestProfilesHonest builds every profile many times and checks that the
// profile's expectation follows from the machine state alone, judged by
// an evaluator written here independently of the profile definitions.
func TestProfilesHonest(t *testing.T) {
	for _, name := range ProfileNames() {
		t.Run(name, func(t *testing.T) {
			count := 60
			spec := &Spec{Seed: 3, Profiles: []ProfileMix{{Name: name, Count: &count}}}
			hosts, err := Build(spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hosts {
				if !strings.HasPrefix(h.Profile, "inject-") && h.Profile != "bidi-name" {
					checkWellFormed(t, h.Machine)
				}
				got := evaluate(h.Machine)
				fixPass(t, h.Machine)
				after := evaluate(h.Machine)
				got.StatusAfterFix, got.ProblemsAfterFix = after.Status, after.Problems
				if d := cmp.Diff(h.Expect, got, cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
					t.Errorf("%s: expectation does not follow from state (-profile +evaluated):\n%s", h.Machine.ComputerName, d)
				}
			}
		})
	}
}

func checkWellFormed(t *testing.T, m *windows.Machine) {
	t.Helper()
	if !nameRe.MatchString(m.ComputerName) {
		t.Errorf("computer name %q", m.ComputerName)
	}
	if m.OS.Version != "10.0."+m.OS.BuildNumber {
		t.Errorf("%s: OS %+v", m.ComputerName, m.OS)
	}
	if m.Join.AzureAdJoined && (m.Join.DeviceID != strings.ToLower(m.Join.DeviceID) || len(m.Join.DeviceID) != 36) {
		t.Errorf("%s: Entra deviceId %q", m.ComputerName, m.Join.DeviceID)
	}
	for _, v := range m.Volumes {
		if !deviceIDRe.MatchString(v.DeviceID) {
			t.Errorf("%s: volume DeviceID %q", m.ComputerName, v.DeviceID)
		}
		for _, p := range v.Protectors {
			if !protectorIDRe.MatchString(p.ID) && !(p.ID == "BitLocker" && v.EncryptionMethod == methodHardware) {
				t.Errorf("%s: protector ID %q", m.ComputerName, p.ID)
			}
			if (p.Type == protRecoveryPassword) != (p.RecoveryPassword != "") {
				t.Errorf("%s: protector type %d with recovery password set=%v", m.ComputerName, p.Type, p.RecoveryPassword != "")
			}
			if p.RecoveryPassword != "" {
				if err := validRecoveryPassword(p.RecoveryPassword); err != nil {
					t.Errorf("%s: %v", m.ComputerName, err) // never print the value
				}
			}
		}
	}
	for i := 1; i < len(m.Events); i++ {
		if m.Events[i].Time.Before(m.Events[i-1].Time) || m.Events[i].RecordID <= m.Events[i-1].RecordID {
			t.Errorf("%s: event log out of order at %d", m.ComputerName, i)
		}
	}
}

func validRecoveryPassword(s string) error {
	groups := strings.Split(s, "-")
	if len(groups) != 8 {
		return fmt.Errorf("recovery password has %d groups, want 8", len(groups))
	}
	for i, g := range groups {
		n, err := strconv.Atoi(g)
		if len(g) != 6 || err != nil || n%11 != 0 || n > 720885 {
			return fmt.Errorf("recovery password group %d is not six digits, a multiple of 11, at most 720885", i+1)
		}
	}
	return nil
}

// evaluate judges a machine under bitaudit's default policy as the
// package documents it, from the machine state alone.
func evaluate(m *windows.Machine) Expectation {
	if hostileMount(m) || strings.ContainsFunc(m.ComputerName, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) {
		// The collector refuses a DriveLetter that is no drive letter, and
		// text with invisible format characters (bidi overrides).
		return Expectation{Status: StatusProtocolError, Problems: []string{ProblemHostileValue}}
	}
	switch {
	case m.NotAdmin:
		return Expectation{Status: StatusAuthFailed}
	case m.NoBitLockerFeature:
		// Nothing can be encrypted; default policy requires the OS volume.
		return Expectation{Status: StatusNoncompliant, Problems: []string{ProblemBitLockerNotInstalled}}
	}
	var problems []string
	add := func(p string) {
		if !slices.Contains(problems, p) {
			problems = append(problems, p)
		}
	}
	claimed := func(id string) bool {
		return slices.ContainsFunc(m.Events, func(e windows.Event) bool {
			return (e.ID == 784 || e.ID == 845) && slices.Contains(e.Data, windows.EventData{Name: "ProtectorGUID", Value: id})
		})
	}
	var accepted []windows.EscrowedKey
	if m.Join.DomainJoined {
		accepted = append(accepted, m.Escrow.AD...)
		if m.FVEPolicy["OSRequireActiveDirectoryBackup"] != uint32(1) {
			add(ProblemBackupNotRequired)
		}
	}
	if m.Join.AzureAdJoined {
		accepted = append(accepted, m.Escrow.Entra...)
	}
	if !m.Join.DomainJoined && !m.Join.AzureAdJoined {
		accepted = append(accepted, m.Escrow.ExternalFiles...)
	}
	held := func(id string) bool {
		return slices.ContainsFunc(accepted, func(k windows.EscrowedKey) bool { return k.ProtectorID == id })
	}
	current := map[string]bool{}
	for _, v := range m.Volumes {
		for _, p := range v.Protectors {
			current[p.ID] = true
		}
		unreadable := slices.ContainsFunc(v.Protectors, func(p *windows.Protector) bool { return !protectorIDRe.MatchString(p.ID) })
		switch {
		case v.VolumeType == volRemovable, v.PartitionGptType == "{de94bba4-06d1-4d40-a16a-bfd50179d6ac}":
			continue
		case unreadable:
			add(ProblemVolumeUnreadable)
			if slices.ContainsFunc(v.Protectors, func(p *windows.Protector) bool { return !plainValue.MatchString(p.ID) }) {
				add(ProblemHostileValue)
			}
			continue
		case v.LockStatus == 1:
			add(ProblemVolumeLocked)
			continue
		case v.ConversionStatus == 0 && v.VolumeType == volOS:
			add(ProblemOSVolumeDecrypted)
			continue
		case v.ConversionStatus == 0:
			add(ProblemDataVolumeDecrypted)
			continue
		case v.ConversionStatus == 2:
			add(ProblemEncryptionInProgress)
		}
		if v.EncryptionMethod != methodXTSAES128 && v.EncryptionMethod != methodXTSAES256 {
			add(ProblemWeakEncryptionMethod)
		}
		if len(v.Protectors) == 0 {
			add(ProblemNoProtectors)
			continue
		}
		switch {
		case v.ProtectionStatus == 0 && v.SuspendCount > 0:
			add(ProblemProtectionSuspended)
		case v.ProtectionStatus == 0:
			add(ProblemProtectionOff)
		}
		var rps, escrowed []string
		for _, p := range v.Protectors {
			if p.Type == protRecoveryPassword {
				rps = append(rps, p.ID)
				if held(p.ID) {
					escrowed = append(escrowed, p.ID)
				}
			}
		}
		switch {
		case len(rps) == 0:
			add(ProblemNoRecoveryPassword)
		case len(escrowed) == 0:
			for _, id := range rps {
				if claimed(id) {
					add(ProblemEscrowClaimedNotFound)
				} else {
					add(ProblemEscrowMissing)
				}
			}
		case len(escrowed) < len(rps):
			add(ProblemEscrowPartial)
		}
	}
	// Stale keys are a problem only while they are all the source holds
	// ("only keys of removed protectors").
	if !slices.ContainsFunc(accepted, func(k windows.EscrowedKey) bool { return current[k.ProtectorID] }) {
		for _, k := range accepted {
			if !current[k.ProtectorID] {
				add(ProblemStaleEscrow)
			}
		}
	}
	hasOS := slices.ContainsFunc(m.Volumes, func(v *windows.Volume) bool { return v.VolumeType == volOS })
	if (m.Join.DomainJoined || m.Join.AzureAdJoined) && !hasOS {
		add(ProblemNoOSVolume)
	}
	if len(problems) == 0 {
		return Expectation{Status: StatusCompliant}
	}
	slices.Sort(problems)
	return Expectation{Status: StatusNoncompliant, Problems: problems}
}

// TestHostileProfilesLinked builds each hostile profile beside honest hosts
// and checks what it took from its victim, and both expectations.
func TestHostileProfilesLinked(t *testing.T) {
	one, ten := 1, 10
	spec := &Spec{Seed: 5, Profiles: []ProfileMix{
		{Name: "domain-laptop", Count: &ten}, {Name: "impostor", Count: &one}, {Name: "workgroup-liar", Count: &one},
		{Name: "no-volumes", Count: &one}, {Name: "duplicate-protector", Count: &one},
	}}
	hosts, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Host{}
	for _, h := range hosts {
		byName[h.Machine.Identity().ComputerName] = h
	}
	victims := map[string]bool{}
	for _, h := range hosts {
		m := h.Machine
		p, _ := profileByName(h.Profile)
		if p.borrow == nil {
			continue
		}
		v := byName[h.Victim]
		if v == nil || v == h || victims[h.Victim] {
			t.Fatalf("%s: victim %q missing, itself or shared", h.Profile, h.Victim)
		}
		victims[h.Victim] = true
		switch h.Profile {
		case "impostor":
			if m.Account == nil || m.Account.ComputerName == v.Machine.ComputerName || m.ComputerName != v.Machine.ComputerName ||
				m.Join != v.Machine.Join || firstRecoveryPassword(m).ID != firstRecoveryPassword(v.Machine).ID {
				t.Errorf("impostor reports %s %+v, account %+v; victim %s %+v", m.ComputerName, m.Join, m.Account, v.Machine.ComputerName, v.Machine.Join)
			}
			if v.Expect.Status != StatusCompliant {
				t.Errorf("the impostor's victim expects %+v, want compliant", v.Expect)
			}
		case "workgroup-liar":
			if m.Join.DomainJoined || m.DNSDomain != "" || m.Account == nil || !m.Account.DomainJoined {
				t.Errorf("workgroup liar reports %+v domain %q, account %+v", m.Join, m.DNSDomain, m.Account)
			}
			if len(m.Escrow.ExternalFiles) != 1 || m.Escrow.ExternalFiles[0].DeviceObject != h.Victim {
				t.Errorf("workgroup liar's key files %+v, want one in %s's folder", m.Escrow.ExternalFiles, h.Victim)
			}
		case "duplicate-protector":
			if firstRecoveryPassword(m).ID != firstRecoveryPassword(v.Machine).ID {
				t.Error("duplicate-protector does not report its victim's protector ID")
			}
			if !slices.Contains(v.Expect.Problems, ProblemDuplicateProtector) || v.Expect.Status != StatusNoncompliant {
				t.Errorf("duplicate-protector's victim expects %+v", v.Expect)
			}
		}
	}
	want := map[string][]string{
		"impostor": {ProblemIdentityMismatch}, "workgroup-liar": {ProblemJoinStateMismatch, ProblemEscrowElsewhere},
		"no-volumes": {ProblemNoOSVolume}, "duplicate-protector": {ProblemDuplicateProtector},
	}
	for _, h := range hosts {
		if w, ok := want[h.Profile]; ok && (h.Expect.Status != StatusNoncompliant || !slices.Equal(h.Expect.Problems, w)) {
			t.Errorf("%s expects %+v, want noncompliant %v", h.Profile, h.Expect, w)
		}
	}
	if len(victims) != 3 {
		t.Errorf("%d victims, want 3", len(victims))
	}
}

// TestDefaultMixHasRealFleetCases: the demo's 30 hosts include a server
// without BitLocker and a Constrained Language Mode host.
func TestDefaultMixHasRealFleetCases(t *testing.T) {
	for _, n := range []int{30, 200} {
		hosts, err := Build(DefaultSpec(n, 1))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, h := range hosts {
			got[h.Profile]++
		}
		for _, p := range []string{"server-no-bitlocker", "constrained-language"} {
			if got[p] == 0 {
				t.Errorf("%d hosts: no %s host: %v", n, p, got)
			}
		}
	}
}

// plainValue matches the characters Windows' protector IDs and drive
// letters hold; an injection needs others (an eDrive's literal "BitLocker"
// protector ID is odd, not hostile).
var plainValue = regexp.MustCompile(`^[A-Za-z0-9{}:-]*$`)

// hostileMount reports whether the machine reports a drive letter crafted
// as an injection.
func hostileMount(m *windows.Machine) bool {
	return slices.ContainsFunc(m.Volumes, func(v *windows.Volume) bool { return !plainValue.MatchString(v.DriveLetter) })
}

// fixPass does what a fix pass under the default policy does, through the
// machine's own PowerShell: back up each recovery password that no source
// of its join state holds, to AD DS when domain-joined and to Entra ID when
// Entra-joined. Hostile machines are left alone.
func fixPass(t *testing.T, m *windows.Machine) {
	t.Helper()
	if hostileMount(m) {
		return
	}
	type job struct{ mount, id, method string }
	var jobs []job
	for _, v := range m.Volumes {
		for _, p := range v.Protectors {
			if p.Type != protRecoveryPassword || !protectorIDRe.MatchString(p.ID) {
				continue // a fix builds commands only from braced GUIDs
			}
			if m.Join.DomainJoined && !slices.ContainsFunc(m.Escrow.AD, func(k windows.EscrowedKey) bool { return k.ProtectorID == p.ID }) {
				jobs = append(jobs, job{v.DriveLetter, p.ID, "BackupRecoveryInformationToActiveDirectory"})
			}
			if m.Join.AzureAdJoined && !slices.ContainsFunc(m.Escrow.Entra, func(k windows.EscrowedKey) bool { return k.ProtectorID == p.ID }) {
				jobs = append(jobs, job{v.DriveLetter, p.ID, "BackupRecoveryInformationToCloudDomain"})
			}
		}
	}
	for _, j := range jobs {
		script := "foreach($v in Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume){if($v.DriveLetter -eq '" + j.mount +
			"'){(Invoke-CimMethod -InputObject $v -MethodName " + j.method + " -Arguments @{VolumeKeyProtectorID='" + j.id + "'}).ReturnValue}}"
		out := m.Run(t.Context(), windows.Invocation{CommandLine: "powershell.exe -NoProfile -Command " + script, Codepage: 65001, User: "auditor"})
		if out.ExitCode != 0 || len(out.Stderr) > 0 || len(out.Stdout) == 0 {
			t.Fatalf("%s: %s failed: exit %d, %s%s", m.ComputerName, j.method, out.ExitCode, out.Stdout, out.Stderr)
		}
	}
}
