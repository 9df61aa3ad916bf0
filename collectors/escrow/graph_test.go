package escrow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/bitaudit/bitaudit/model"
)

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// fakeGraph serves recoveryKeys pages from a script of answers.
type fakeGraph struct {
	mu       sync.Mutex
	answers  []func(w http.ResponseWriter, r *http.Request)
	requests []*http.Request
}

func (f *fakeGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	if len(f.answers) == 0 {
		f.mu.Unlock()
		http.Error(w, "script exhausted", http.StatusInternalServerError)
		return
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	f.mu.Unlock()
	a(w, r)
}

func page(keys string, next string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		body := `{"value":[` + keys + `]`
		if next != "" {
			body += `,"@odata.nextLink":"` + next + `"`
		}
		fmt.Fprint(w, body+"}")
	}
}

func status(code int, retryAfter string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
		fmt.Fprint(w, `{"error":{"code":"TooManyRequests","message":"slow down"}}`)
	}
}

func newTestGraph(t *testing.T, f *fakeGraph) (*graphClient, *[]time.Duration, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	var slept []time.Duration
	g := &graphClient{endpoint: u, hc: srv.Client(), cred: staticToken{}, scope: srv.URL + "/.default",
		sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	return g, &slept, srv
}

const dev = "0f4b5c1e-1111-2222-3333-444455556666"

func TestGraphPagingAndRetries(t *testing.T) {
	f := &fakeGraph{}
	g, slept, srv := newTestGraph(t, f)
	next := srv.URL + recoveryKeysPath + "?$filter=x&$skiptoken=2"
	f.answers = []func(http.ResponseWriter, *http.Request){
		status(http.StatusTooManyRequests, "3"),
		page(`{"id":"aaaaaaaa-0000-0000-0000-000000000001","createdDateTime":"2024-01-02T03:04:05Z","deviceId":"`+dev+`","volumeType":"1"},
		      {"id":"aaaaaaaa-0000-0000-0000-000000000002","createdDateTime":"2024-01-02T03:04:05Z","deviceId":"`+dev+`","volumeType":2}`, next),
		status(http.StatusServiceUnavailable, ""),
		page(`{"id":"aaaaaaaa-0000-0000-0000-000000000003","deviceId":"`+dev+`","volumeType":"removableDataVolume"}`, ""),
	}
	keys, err := g.listKeys(t.Context(), "{"+strings.ToUpper(dev)+"}")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, fmt.Sprintf("%s/%s", k.ID[len(k.ID)-1:], k.VolumeType.modelType()))
	}
	if want := "1/os 2/fixed 3/removable"; strings.Join(got, " ") != want {
		t.Errorf("keys = %v, want %s", got, want)
	}
	if want := []time.Duration{3 * time.Second, time.Second}; fmt.Sprint(*slept) != fmt.Sprint(want) {
		t.Errorf("slept %v, want %v", *slept, want)
	}
	if len(f.requests) != 4 {
		t.Fatalf("%d requests, want 4", len(f.requests))
	}
	first := f.requests[0]
	if q := first.URL.Query().Get("$filter"); q != "deviceId eq '"+dev+"'" {
		t.Errorf("$filter = %q", q)
	}
	for _, r := range f.requests {
		if strings.Contains(strings.ToLower(r.URL.RawQuery), "select") {
			t.Errorf("request selects fields: %s", r.URL)
		}
		if r.Header.Get("Authorization") != "Bearer test-token" || r.Header.Get("User-Agent") == "" {
			t.Errorf("headers %v", r.Header)
		}
	}
}

func TestGraphRetriesAreBounded(t *testing.T) {
	f := &fakeGraph{}
	g, slept, _ := newTestGraph(t, f)
	for range maxGraphRetries + 1 {
		f.answers = append(f.answers, status(http.StatusTooManyRequests, "1"))
	}
	_, err := g.listKeys(t.Context(), dev)
	var se *statusError
	if !errors.As(err, &se) || se.status != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want a 429 statusError", err)
	}
	if len(*slept) != maxGraphRetries {
		t.Errorf("slept %d times, want %d", len(*slept), maxGraphRetries)
	}
}

func TestGraphErrors(t *testing.T) {
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		device string
		check  func(error) bool
	}{
		{"unauthorized", status(http.StatusUnauthorized, ""), dev, func(err error) bool { return errors.Is(err, model.ErrAuth) }},
		{"forbidden", status(http.StatusForbidden, ""), dev, func(err error) bool { return errors.Is(err, model.ErrAuth) }},
		{"garbage", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") }, dev, func(err error) bool { return errors.Is(err, model.ErrProtocol) }},
		{"injection", nil, "x' or 1 eq 1 or deviceId eq 'y", func(err error) bool { return err != nil && strings.Contains(err.Error(), "not a GUID") }},
		{"foreign nextLink", page(``, "https://evil.example/steal"), dev, func(err error) bool { return err != nil && strings.Contains(err.Error(), "nextLink leaves") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeGraph{}
			if tt.answer != nil {
				f.answers = append(f.answers, tt.answer)
			}
			g, _, _ := newTestGraph(t, f)
			_, err := g.listKeys(t.Context(), tt.device)
			if !tt.check(err) {
				t.Errorf("err = %v", err)
			}
			if tt.answer == nil && len(f.requests) != 0 {
				t.Errorf("sent %d requests for an invalid deviceId", len(f.requests))
			}
		})
	}
}

func TestGraphGetKey(t *testing.T) {
	f := &fakeGraph{}
	g, _, _ := newTestGraph(t, f)
	f.answers = []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(map[string]any{"id": "aaaaaaaa-0000-0000-0000-000000000001", "deviceId": dev, "volumeType": "1"})
		},
		func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":{"code":"Request_ResourceNotFound"}}`, 404)
		},
	}
	k, err := g.getKey(t.Context(), "{AAAAAAAA-0000-0000-0000-000000000001}")
	if err != nil || k == nil || k.DeviceID != dev {
		t.Fatalf("getKey = %+v, %v", k, err)
	}
	if p := f.requests[0].URL.Path; p != recoveryKeysPath+"/aaaaaaaa-0000-0000-0000-000000000001" {
		t.Errorf("path %s", p)
	}
	k, err = g.getKey(t.Context(), "aaaaaaaa-0000-0000-0000-000000000002")
	if err != nil || k != nil {
		t.Fatalf("getKey(404) = %+v, %v; want nil, nil", k, err)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		h       string
		attempt int
		want    time.Duration
	}{
		{"7", 0, 7 * time.Second},
		{"0", 3, 0},
		{"", 0, time.Second},
		{"", 2, 4 * time.Second},
		{"soon", 1, 2 * time.Second},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.h, tt.attempt); got != tt.want {
			t.Errorf("retryAfter(%q, %d) = %v, want %v", tt.h, tt.attempt, got, tt.want)
		}
	}
}
