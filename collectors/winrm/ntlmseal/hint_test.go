package ntlmseal

import (
	"strings"
	"testing"
)

func TestStatusHint(t *testing.T) {
	tests := []struct {
		status int
		scheme string
		want   string
	}{
		{400, "http", "the port likely expects HTTPS"},
		{400, "https", ""},
		{500, "http", ""},
		{200, "http", ""},
	}
	for _, tt := range tests {
		got := StatusHint(tt.status, tt.scheme)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("StatusHint(%d, %s) = %q, want %q", tt.status, tt.scheme, got, tt.want)
		}
	}
}
