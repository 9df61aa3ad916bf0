package model

import "testing"

func TestIdentityGivenName(t *testing.T) {
	tests := []struct {
		t    Target
		want string
	}{
		{Target{Host: "ws-0001.corp.example.test"}, "WS-0001"},
		{Target{Host: "ws-0001", Port: 5986}, "WS-0001"},
		{Target{Host: "10.0.0.5", Port: 5985}, ""},
		{Target{Host: "::1"}, ""},
		{Target{Host: "10.0.0.5", FQDN: "lt-7.corp.example.test"}, "LT-7"},
		{Target{Host: "10.0.0.5", ADDN: "CN=srv-9,OU=Servers,DC=corp"}, "SRV-9"},
		{Target{Host: "10.0.0.5", EntraDeviceID: "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"}, ""},
	}
	for _, tt := range tests {
		if got := tt.t.Identity().GivenName(); got != tt.want {
			t.Errorf("%+v: GivenName() = %q, want %q", tt.t, got, tt.want)
		}
	}
	var none *Identity
	if none.GivenName() != "" || none.ConfirmedName() != "" {
		t.Error("nil identity names something")
	}
}

func TestEffectiveJoin(t *testing.T) {
	h := &HostResult{}
	if h.EffectiveJoin() != JoinUnknown {
		t.Errorf("no facts: %s", h.EffectiveJoin())
	}
	h.Facts = &HostFacts{Join: JoinInfo{State: JoinWorkgroup}}
	if h.EffectiveJoin() != JoinWorkgroup {
		t.Errorf("host's report: %s", h.EffectiveJoin())
	}
	h.Identity = &Identity{Join: JoinDomain}
	if h.EffectiveJoin() != JoinDomain {
		t.Errorf("directory's: %s", h.EffectiveJoin())
	}
}
