package winrm

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bitaudit/bitaudit/model"
)

// TestRedirectRefused: a WinRM host answering 3xx is a protocol error naming
// where it points, and nothing is sent there (no credentials, no script).
func TestRedirectRefused(t *testing.T) {
	var elsewhere atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer evil.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		host := &fakeHost{user: "admin", pass: testPassword, hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, evil.URL+"/wsman", code)
			return true
		}}
		srv := httptest.NewServer(host)
		c, err := New(basicHTTP(io.Discard))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Collect(t.Context(), target(t, srv))
		srv.Close()
		if !errors.Is(err, model.ErrProtocol) || !strings.Contains(err.Error(), "redirect to "+evil.URL+"/wsman refused") {
			t.Errorf("HTTP %d: err = %v, want a protocol error naming %s", code, err, evil.URL)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("%d requests reached the redirect target", n)
	}
}
