package audit

import (
	"testing"
	"time"
)

func TestRampDelay(t *testing.T) {
	tests := []struct {
		i, workers int
		ramp, want time.Duration
	}{
		{0, 4, time.Second, 0},
		{1, 4, time.Second, 250 * time.Millisecond},
		{3, 4, time.Second, 750 * time.Millisecond},
		{4, 4, time.Second, 0},   // waits for a worker instead
		{100, 4, time.Second, 0}, // likewise
		{3, 4, 0, 0},             // no ramp
		{3, 4, -time.Second, 0},
		{0, 1, time.Second, 0},
		{511, 512, 250 * time.Millisecond, 250 * time.Millisecond * 511 / 512},
	}
	for _, tt := range tests {
		if got := rampDelay(tt.i, tt.workers, tt.ramp); got != tt.want {
			t.Errorf("rampDelay(%d, %d, %v) = %v, want %v", tt.i, tt.workers, tt.ramp, got, tt.want)
		}
	}
}
