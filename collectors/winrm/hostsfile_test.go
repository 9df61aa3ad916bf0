package winrm

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseHostsFile(t *testing.T) {
	in := "# simulated\n127.0.56.1\tlt-0001.corp.example.test LT-0001\n\n127.0.56.2 ws-0002.corp.example.test. # trailing dot\n" +
		"127.0.56.9 LT-0001.corp.example.test\n::1 v6host\n"
	got, err := ParseHostsFile(strings.NewReader(in), "hosts")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"lt-0001.corp.example.test": "127.0.56.1", "lt-0001": "127.0.56.1", "ws-0002.corp.example.test": "127.0.56.2", "v6host": "::1"}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	for k, v := range want {
		if got[k] != netip.MustParseAddr(v) {
			t.Errorf("%s -> %v, want %s (the first line naming a host wins)", k, got[k], v)
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"nothost lt-1\n", "hosts:1: \"nothost\" is not an IP address"},
		{"# ok\n127.0.0.1\n", "hosts:2: no host name after 127.0.0.1"},
	} {
		if _, err := ParseHostsFile(strings.NewReader(bad.in), "hosts"); err == nil || err.Error() != bad.want {
			t.Errorf("%q: err %v, want %q", bad.in, err, bad.want)
		}
	}
	c := &Collector{opts: Options{Hosts: got}}
	if c.resolve("WS-0002.corp.example.test") != "127.0.56.2" || c.resolve("other.example") != "other.example" {
		t.Error("resolve does not use the hosts file, or uses it for names it lacks")
	}
}
