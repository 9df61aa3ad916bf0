package wsman_test

import (
	"testing"

	"github.com/bitaudit/bitaudit/simulator/wsman"
)

func TestNewHostValidates(t *testing.T) {
	for name, mutate := range map[string]func(*wsman.Config){
		"no runner":      func(c *wsman.Config) { c.Runner = nil },
		"no user":        func(c *wsman.Config) { c.User = "" },
		"no auth scheme": func(c *wsman.Config) { c.AllowBasic, c.AllowNTLM = false, false },
		"unknown fault":  func(c *wsman.Config) { c.Fault = "explode" },
	} {
		cfg := testConfig()
		mutate(&cfg)
		if h, err := wsman.NewHost(cfg); err == nil {
			h.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	for _, f := range wsman.Faults {
		cfg := testConfig()
		cfg.Fault = f
		h, err := wsman.NewHost(cfg)
		if err != nil {
			t.Errorf("fault %q: %v", f, err)
			continue
		}
		h.Close()
	}
}

func TestConfigAllows(t *testing.T) {
	cfg := wsman.Config{AllowNTLM: true}
	if cfg.Allows(wsman.AuthBasic) || !cfg.Allows(wsman.AuthNTLM) || cfg.Allows(wsman.Auth(7)) {
		t.Errorf("Allows wrong for %+v", cfg)
	}
}
