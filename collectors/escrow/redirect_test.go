package escrow

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator/entra"
)

// TestEntraRedirectsRefused: a 3xx from the token endpoint or from Graph is
// an error naming where it points; nothing (secret, token) is sent there.
func TestEntraRedirectsRefused(t *testing.T) {
	var elsewhere atomic.Int64
	evil := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer evil.Close()
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, []byte(testSecret))
	for _, tc := range []struct {
		name string
		hit  func(*http.Request) bool
	}{
		{"token endpoint", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") }},
		{"graph", func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v1.0/") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := entra.NewServer(entra.Options{TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret})
			hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.hit(r) {
					http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusTemporaryRedirect)
					return
				}
				sim.ServeHTTP(w, r)
			}))
			defer hs.Close()
			sim.URL = hs.URL
			cfg := &Config{Entra: &EntraConfig{TenantID: testTenant, ClientID: testClient, ClientSecretFile: secret,
				AuthorityHost: hs.URL + "/", GraphEndpoint: hs.URL}}
			c, err := New(t.Context(), cfg, Options{HTTPClient: hs.Client()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.graph.listKeys(t.Context(), dev1)
			if err == nil || !strings.Contains(err.Error(), "redirect to "+evil.URL) || !strings.Contains(err.Error(), "refused") {
				t.Errorf("err = %v, want a refused redirect naming %s", err, evil.URL)
			}
			if tc.name == "graph" && !errors.Is(err, model.ErrProtocol) {
				t.Errorf("a Graph redirect is not a protocol error: %v", err)
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("%d requests reached the redirect target", n)
	}
}
