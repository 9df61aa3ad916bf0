//go:build !unix

package wsman_test

import (
	"testing"
	"time"
)

// cpuTime is not measured here: benchmarks then omit cpu-ms/command.
func cpuTime(*testing.B) time.Duration { return 0 }
