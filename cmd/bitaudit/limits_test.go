package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestFitConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name        string
		concurrency int
		limit       uint64
		err         error
		want        int
		warn        string
	}{
		{"fits", 256, 1024, nil, 256, ""},
		{"exactly fits", 960, 1024, nil, 960, ""},
		{"limit unknown", 256, 0, nil, 256, ""},
		{"too low", 256, 200, nil, 136, "open-file limit too low"},
		{"far too low", 256, 10, nil, 1, "open-file limit too low"},
		{"unreadable", 256, 0, errors.New("EPERM"), 256, "cannot read or raise"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			got := fitConcurrency(log, tc.concurrency, func() (uint64, error) { return tc.limit, tc.err })
			if got != tc.want {
				t.Errorf("fitConcurrency(%d) with limit %d = %d, want %d", tc.concurrency, tc.limit, got, tc.want)
			}
			if tc.warn == "" && logs.Len() > 0 || tc.warn != "" && !strings.Contains(logs.String(), tc.warn) {
				t.Errorf("log %q, want %q", logs.String(), tc.warn)
			}
		})
	}
}
