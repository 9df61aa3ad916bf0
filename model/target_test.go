package model

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTargets(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Target
		dups    []Duplicate
		wantErr []string // substrings, each must appear
	}{
		{
			name: "lines with comments, ports and IPv6",
			in:   "# fleet\nws-0001.corp.example.test\n\n  ws-0002:5986  # laptop\n127.0.10.3:5985\n[::1]:5986\n::1\n",
			want: []Target{{Host: "ws-0001.corp.example.test"}, {Host: "ws-0002", Port: 5986}, {Host: "127.0.10.3", Port: 5985}, {Host: "::1", Port: 5986}, {Host: "::1"}},
		},
		{
			name: "duplicates audited once",
			in:   "a\nA\nb:5985\nb:5985\nb:5986\n",
			want: []Target{{Host: "a"}, {Host: "b", Port: 5985}, {Host: "b", Port: 5986}},
			dups: []Duplicate{{Target: "A", Line: 2, FirstLine: 1}, {Target: "b:5985", Line: 4, FirstLine: 3}},
		},
		{
			name: "csv with host column and labels",
			in:   "\ufeffsite,host,owner\nHQ,ws-1,alice\nBranch,ws-2:5986,bob\n",
			want: []Target{{Host: "ws-1", Labels: map[string]string{"site": "HQ", "owner": "alice"}}, {Host: "ws-2", Port: 5986, Labels: map[string]string{"site": "Branch", "owner": "bob"}}},
		},
		{
			name: "csv identity columns are not labels",
			in: "host,FQDN,ad_dn,entra_device_id,site\n" +
				"127.0.10.1:5986,ws-0001.corp.example.test.,\"CN=WS-0001,OU=Workstations,DC=corp,DC=example,DC=test\",{6F1C2B3A-4D5E-4F60-8A7B-9C0D1E2F3A4B},HQ\n" +
				"127.0.10.2,,,,Branch\n",
			want: []Target{
				{Host: "127.0.10.1", Port: 5986, FQDN: "ws-0001.corp.example.test", ADDN: "CN=WS-0001,OU=Workstations,DC=corp,DC=example,DC=test",
					EntraDeviceID: "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", Labels: map[string]string{"site": "HQ"}},
				{Host: "127.0.10.2", Labels: map[string]string{"site": "Branch"}},
			},
		},
		{name: "csv bad fqdn", in: "host,fqdn\na,ev il\nb,10.0.0.1\n", wantErr: []string{"t.txt:2: fqdn", "t.txt:3: fqdn \"10.0.0.1\" is an IP address"}},
		{name: "csv bad dn", in: "host,ad_dn\na,nonsense\nb,\"CN=x\x01\"\n", wantErr: []string{"t.txt:2: ad_dn \"nonsense\"", "t.txt:3: ad_dn"}},
		{name: "csv bad device id", in: "host,entra_device_id\na,not-a-guid\n", wantErr: []string{"t.txt:2: entra_device_id \"not-a-guid\" is not a GUID"}},
		{name: "empty", in: "# nothing\n\n", wantErr: []string{"t.txt: no targets"}},
		{name: "bad port", in: "ok\nhost:99999\nhost:x\n", wantErr: []string{"t.txt:2: invalid port", "t.txt:3: invalid port"}},
		{name: "bad host", in: "good\nbad_host!\nfoo;rm -rf\n-lead\n", wantErr: []string{"t.txt:2:", "t.txt:3:", "t.txt:4:"}},
		{name: "injection attempt", in: "a'$(calc)\n", wantErr: []string{"t.txt:1: invalid host"}},
		{name: "csv missing host value", in: "host,site\n,HQ\n", wantErr: []string{"t.txt:2: empty host"}},
		{name: "csv unterminated quote", in: "host,fqdn\nws-1,ws-1.corp.example.test\n\"ws-2,x\n", wantErr: []string{"t.txt:3: ", "extraneous or missing \" in quoted-field"}},
		{name: "csv bare quote", in: "host\nws\"1\n", wantErr: []string{"t.txt:2: invalid host"}},
		{name: "csv without host column", in: "# fleet\nname,site\nws-1,HQ\n", wantErr: []string{"t.txt:1: CSV header has no \"host\" column", `columns found: "name", "site"`}},
		{name: "binary", in: "ws-1\n\x00\x01\x02garbage", wantErr: []string{"t.txt: not a text file (NUL byte at offset 5)"}},
		{name: "invalid utf-8", in: "ws-1\n\xff\xfe\xfd\n", wantErr: []string{"t.txt: not a UTF-8 text file"}},
		{name: "utf-16", in: "\xff\xfew\x00s\x00\n\x00", wantErr: []string{"t.txt: not a UTF-8 text file (UTF-16"}},
		{name: "many bad lines", in: strings.Repeat("bad!host\n", 500), wantErr: []string{"t.txt:20: invalid host", "… and 480 more malformed lines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dups, err := ParseTargets(strings.NewReader(tt.in), "t.txt")
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("want error, got %v", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				var te *TargetError
				if !errors.As(err, &te) {
					t.Errorf("error is not a *TargetError: %T", err)
				}
				if got != nil {
					t.Errorf("targets returned alongside an error: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("targets (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.dups, dups); d != "" {
				t.Errorf("duplicates (-want +got):\n%s", d)
			}
		})
	}
}

func TestTargetIdentity(t *testing.T) {
	tests := []struct {
		t        Target
		dns      string
		identity bool
	}{
		{Target{Host: "ws-1.corp.example.test"}, "ws-1.corp.example.test", true},
		{Target{Host: "10.0.0.1"}, "", false},
		{Target{Host: "::1"}, "", false},
		{Target{Host: "10.0.0.1", FQDN: "ws-1.corp.example.test"}, "ws-1.corp.example.test", true},
		{Target{Host: "10.0.0.1", ADDN: "CN=WS-1,DC=corp"}, "", true},
		{Target{Host: "10.0.0.1", EntraDeviceID: "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"}, "", true},
	}
	for _, tt := range tests {
		if got := tt.t.DNSName(); got != tt.dns {
			t.Errorf("%+v DNSName() = %q, want %q", tt.t, got, tt.dns)
		}
		if got := tt.t.HasIdentity(); got != tt.identity {
			t.Errorf("%+v HasIdentity() = %v, want %v", tt.t, got, tt.identity)
		}
	}
}

func FuzzParseTargets(f *testing.F) {
	f.Add("a\nb:1\n[::1]:2\n")
	f.Add("host,x\nh,1\n")
	f.Fuzz(func(t *testing.T, s string) {
		targets, _, err := ParseTargets(strings.NewReader(s), "f")
		if err == nil && len(targets) == 0 {
			t.Fatal("no error and no targets")
		}
		for _, tg := range targets {
			if tg.Host == "" || tg.Port < 0 || tg.Port > 65535 {
				t.Fatalf("invalid target accepted: %+v", tg)
			}
		}
	})
}

func TestStatusForError(t *testing.T) {
	tests := []struct {
		err  error
		want Status
	}{
		{nil, StatusCompliant},
		{ErrUnreachable, StatusUnreachable},
		{errors.Join(errors.New("x"), ErrAuth), StatusAuthFailed},
		{ErrTimeout, StatusTimeout},
		{ErrInterrupted, StatusInterrupted},
		{errors.New("garbage"), StatusProtocolError},
	}
	for _, tt := range tests {
		if got := StatusForError(tt.err); got != tt.want {
			t.Errorf("StatusForError(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2")
	for _, out := range []string{s.String(), s.GoString(), s.LogValue().String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %q", out)
		}
	}
	b, _ := s.MarshalText()
	if strings.Contains(string(b), "hunter2") || s.Reveal() != "hunter2" {
		t.Fatal("secret handling broken")
	}
}

func TestSummarize(t *testing.T) {
	hosts := []HostResult{
		{Status: StatusCompliant, Volumes: []Volume{{Conversion: FullyEncrypted, Protectors: []Protector{
			{Type: ProtectorRecoveryPassword, Backups: []Backup{{Location: LocationAD, State: BackupVerified}}},
			{Type: ProtectorTPM},
		}}}},
		{Status: StatusNoncompliant, Findings: []Finding{{RuleID: "r1", Severity: SeverityHigh}, {RuleID: "r2", Severity: SeverityLow, Waiver: &WaiverRef{ID: "w"}}},
			Volumes: []Volume{{Conversion: FullyEncrypted, Protectors: []Protector{{Type: ProtectorRecoveryPassword, Backups: []Backup{{Location: LocationAD, State: BackupMissing}}}}}}},
		{Status: StatusUnreachable, Findings: []Finding{{RuleID: "host.not-audited", Severity: SeverityHigh}}},
	}
	s := Summarize(hosts)
	if s.Hosts != 3 || s.HostsAudited != 2 || s.Volumes != 2 || s.RecoveryPasswords != 2 || s.BackedUp != 1 {
		t.Errorf("counts: %+v", s)
	}
	if *s.BackupCoverage != 0.5 || *s.CompliantShare != 0.5 || s.Waived != 1 || s.FindingsBySeverity[SeverityHigh] != 2 || s.FindingsByRule["r2"] != 0 || s.FindingsByRule["host.not-audited"] != 1 {
		t.Errorf("figures: %+v", s)
	}
	if s.HostsByStatus[StatusUnreachable] != 1 || s.HostsByStatus[StatusTimeout] != 0 {
		t.Errorf("by status: %v", s.HostsByStatus)
	}
	if s.ByState != (BackupCounts{Verified: 1, Missing: 1}) {
		t.Errorf("by state: %+v", s.ByState)
	}
}

// TestSummarizeNeverOverstates: a run that audited nothing, or found no
// recovery password, has no share (JSON null), and claimed-only backups
// are counted apart from verified ones.
func TestSummarizeNeverOverstates(t *testing.T) {
	s := Summarize([]HostResult{{Status: StatusAuthFailed}, {Status: StatusAuthFailed}})
	if s.BackupCoverage != nil || s.CompliantShare != nil || s.CompliantShareWithoutWaivers != nil {
		t.Errorf("nothing audited, yet shares %v %v %v", s.BackupCoverage, s.CompliantShare, s.CompliantShareWithoutWaivers)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"backup_coverage":null`, `"compliant_share":null`, `"compliant_share_without_waivers":null`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("summary JSON lacks %s: %s", k, b)
		}
	}
	rp := func(states ...BackupState) Protector {
		p := Protector{Type: ProtectorRecoveryPassword}
		for i, st := range states {
			p.Backups = append(p.Backups, Backup{Location: Locations[i], State: st})
		}
		return p
	}
	s = Summarize([]HostResult{{Status: StatusNoncompliant, Volumes: []Volume{{Protectors: []Protector{
		rp(BackupClaimed, BackupMissing), rp(BackupUnknown, BackupMissing), rp(BackupUnknown), rp(), rp(BackupMissing, BackupVerified),
	}}}}})
	if s.ByState != (BackupCounts{Verified: 1, Claimed: 1, Missing: 1, Unknown: 2}) || s.BackedUp != 1 || *s.BackupCoverage != 0.2 {
		t.Errorf("by state %+v, backed up %d, coverage %v", s.ByState, s.BackedUp, *s.BackupCoverage)
	}
}
