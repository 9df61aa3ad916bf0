package entra

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/simulator/windows"
)

const (
	tenant = "72f988bf-0000-4000-8000-000000000000"
	client = "c11e0000-0000-4000-8000-000000000000"
	secret = "s3cret"
	dev    = "d1d1d1d1-0000-4000-8000-0000000000d1"
)

func testServer(t *testing.T, o Options) (*Server, *http.Client) {
	t.Helper()
	t0 := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	var keys []windows.EscrowedKey
	for _, id := range []string{"{0A0A0A0A-0000-4000-8000-00000000000A}", "{0B0B0B0B-0000-4000-8000-00000000000B}", "{0C0C0C0C-0000-4000-8000-00000000000C}"} {
		keys = append(keys, windows.EscrowedKey{ProtectorID: id, Created: t0, VolumeType: 1})
	}
	keys = append(keys, windows.EscrowedKey{ProtectorID: "{0D0D0D0D-0000-4000-8000-00000000000D}", Created: t0, VolumeType: 2, DeviceObject: "OLD-DEVICE"})
	o.TenantID, o.ClientID, o.ClientSecret = tenant, client, secret
	o.Machines = []*windows.Machine{{ComputerName: "LT-1", Join: windows.JoinState{AzureAdJoined: true, DeviceID: dev}, Escrow: windows.EscrowTruth{Entra: keys}}}
	s := NewServer(o)
	hs := httptest.NewTLSServer(s)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s, hs.Client()
}

func token(t *testing.T, s *Server, c *http.Client, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := c.PostForm(s.URL+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func get(t *testing.T, c *http.Client, u, tok string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	json.Unmarshal(b, &body)
	return resp.StatusCode, body, resp.Header
}

func TestTokenEndpoint(t *testing.T) {
	s, c := testServer(t, Options{})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {s.URL + "/.default openid offline_access profile"}}
	if code, body := token(t, s, c, form); code != 200 || body["access_token"] == "" || body["token_type"] != "Bearer" {
		t.Errorf("good request: %d %v", code, body)
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("client_secret", "wrong")
	if code, body := token(t, s, c, bad); code != 401 || body["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", code, body)
	}
	bad.Set("client_secret", secret)
	bad.Set("scope", "https://graph.microsoft.com/.default")
	if code, body := token(t, s, c, bad); code != 400 || body["error"] != "invalid_scope" {
		t.Errorf("foreign scope: %d %v", code, body)
	}
	code, disc, _ := get(t, c, s.URL+"/"+tenant+"/v2.0/.well-known/openid-configuration", "")
	if code != 200 || disc["token_endpoint"] != s.URL+"/"+tenant+"/oauth2/v2.0/token" || !strings.HasPrefix(disc["issuer"].(string), s.URL) {
		t.Errorf("discovery: %d %v", code, disc)
	}
}

func issue(t *testing.T, s *Server, c *http.Client) string {
	t.Helper()
	_, body := token(t, s, c, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {s.URL + "/.default"}})
	return body["access_token"].(string)
}

func TestRecoveryKeys(t *testing.T) {
	s, c := testServer(t, Options{PageSize: 2, ThrottleEvery: 4, RetryAfter: 7})
	tok := issue(t, s, c)
	if code, _, _ := get(t, c, s.URL+keysPath, ""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	// Requests 2 and 3 page through the device's three keys; request 4 is throttled.
	u := s.URL + keysPath + "?$filter=" + url.QueryEscape("deviceId eq '"+dev+"'")
	var ids []string
	for u != "" {
		code, body, _ := get(t, c, u, tok)
		if code != 200 {
			t.Fatalf("GET %s: %d %v", u, code, body)
		}
		for _, v := range body["value"].([]any) {
			k := v.(map[string]any)
			ids = append(ids, k["id"].(string)[:8]+"/"+k["volumeType"].(string))
			if _, ok := k["key"]; ok {
				t.Error("a key was returned without $select")
			}
		}
		u, _ = body["@odata.nextLink"].(string)
	}
	if got := strings.Join(ids, " "); got != "0a0a0a0a/1 0b0b0b0b/1 0c0c0c0c/1" {
		t.Errorf("keys %s", got)
	}
	code, _, h := get(t, c, s.URL+keysPath+"/0a0a0a0a-0000-4000-8000-00000000000a", tok)
	if code != 429 || h.Get("Retry-After") != "7" {
		t.Errorf("4th request: %d Retry-After %q, want 429 7", code, h.Get("Retry-After"))
	}
	code, k, _ := get(t, c, s.URL+keysPath+"/0d0d0d0d-0000-4000-8000-00000000000d", tok)
	if code != 200 || k["deviceId"] != DeviceIDFor("OLD-DEVICE") {
		t.Errorf("key on another device: %d %v", code, k)
	}
	if code, _, _ := get(t, c, s.URL+keysPath+"/0e0e0e0e-0000-4000-8000-00000000000e", tok); code != 404 {
		t.Errorf("unknown key: %d, want 404", code)
	}
	if code, _, _ := get(t, c, s.URL+keysPath+"/0a0a0a0a-0000-4000-8000-00000000000a?$select=key", tok); code != 403 {
		t.Errorf("$select=key: %d, want 403", code)
	}
	if code, _, _ := get(t, c, s.URL+keysPath+"/0a0a0a0a-0000-4000-8000-00000000000a", tok); code != 429 {
		t.Errorf("8th request: %d, want 429", code)
	}
	if code, _, _ := get(t, c, s.URL+keysPath+"?$filter="+url.QueryEscape("deviceId ne 'x'"), tok); code != 400 {
		t.Errorf("unsupported filter: %d, want 400", code)
	}
	code, body, _ := get(t, c, s.URL+keysPath+"?$filter="+url.QueryEscape("deviceId eq '"+DeviceIDFor("nobody")+"'"), tok)
	if v, ok := body["value"].([]any); code != 200 || !ok || len(v) != 0 {
		t.Errorf("unknown device: %d %v, want an empty list", code, body)
	}
	if s.Throttled.Load() != 2 {
		t.Errorf("throttled %d, want 2", s.Throttled.Load())
	}
}

func TestDeviceIDFor(t *testing.T) {
	if got := DeviceIDFor("{" + strings.ToUpper(dev) + "}"); got != dev {
		t.Errorf("DeviceIDFor(GUID) = %s", got)
	}
	if a, b := DeviceIDFor("OLD"), DeviceIDFor("OLD"); a != b || len(a) != 36 || a == DeviceIDFor("NEW") {
		t.Errorf("DeviceIDFor(name) not a stable GUID: %s %s", a, b)
	}
}

func TestDevices(t *testing.T) {
	s, c := testServer(t, Options{})
	_, body := token(t, s, c, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {s.URL + "/.default"}})
	tok, _ := body["access_token"].(string)
	q := func(f string) string { return s.URL + devicesPath + "?$filter=" + url.QueryEscape(f) }
	tests := []struct {
		filter string
		code   int
		names  int
	}{
		{"deviceId eq '" + dev + "'", 200, 1},
		{"displayName eq 'lt-1'", 200, 1}, // case-insensitive, as Entra ID compares
		{"displayName eq 'LT-2'", 200, 0},
		{"startswith(displayName,'LT')", 400, 0},
	}
	for _, tt := range tests {
		code, body, _ := get(t, c, q(tt.filter), tok)
		v, _ := body["value"].([]any)
		if code != tt.code || len(v) != tt.names {
			t.Errorf("%s: %d with %d devices, want %d with %d", tt.filter, code, len(v), tt.code, tt.names)
		}
		if len(v) == 1 {
			d := v[0].(map[string]any)
			if d["deviceId"] != dev || d["displayName"] != "LT-1" || d["trustType"] != "AzureAd" {
				t.Errorf("%s: device %v", tt.filter, d)
			}
		}
	}
	if code, _, _ := get(t, c, q("deviceId eq '"+dev+"'"), ""); code != 401 {
		t.Errorf("devices without a token: %d, want 401", code)
	}
}

// TestKeysSeeEscrowChanges checks that the listing and the lookup by ID,
// served from an index, see a key added to a machine's escrow afterwards
// (a backup the machine ran).
func TestKeysSeeEscrowChanges(t *testing.T) {
	s, c := testServer(t, Options{PageSize: 100})
	tok := issue(t, s, c)
	count := func() int {
		t.Helper()
		code, body, _ := get(t, c, s.URL+keysPath, tok)
		vals, _ := body["value"].([]any)
		if code != 200 {
			t.Fatalf("list: %d %v", code, body)
		}
		return len(vals)
	}
	const added = "0e0e0e0e-0000-4000-8000-00000000000e"
	before := count()
	if code, _, _ := get(t, c, s.URL+keysPath+"/"+added, tok); code != http.StatusNotFound {
		t.Fatalf("key %s found before it was added: %d", added, code)
	}
	m := s.opts.Machines[0]
	m.Mu.Lock()
	m.Escrow.Entra = append(m.Escrow.Entra, windows.EscrowedKey{ProtectorID: "{" + strings.ToUpper(added) + "}", Created: time.Now(), VolumeType: 2})
	m.Mu.Unlock()
	windows.EscrowChanged()
	if after := count(); after != before+1 {
		t.Errorf("%d keys listed after a backup, want %d", after, before+1)
	}
	if code, body, _ := get(t, c, s.URL+keysPath+"/"+added, tok); code != 200 || body["id"] != added {
		t.Errorf("key added: %d %v", code, body)
	}
}

// TestFoldKey checks that fold keys are equal exactly when strings.EqualFold
// says the strings are.
func TestFoldKey(t *testing.T) {
	words := []string{"LT-0001", "lt-0001", "LAPTOP-Ä01Ł", "laptop-ä01ł", "K", "k", "\u212a", "s", "S", "\u017f", "ß", "ẞ", "lt-0002", ""}
	for _, a := range words {
		for _, b := range words {
			if got, want := foldKey(a) == foldKey(b), strings.EqualFold(a, b); got != want {
				t.Errorf("%q, %q: same fold key %v, EqualFold %v", a, b, got, want)
			}
		}
	}
}
