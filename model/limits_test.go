package model

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCheckLimits(t *testing.T) {
	vol := func(mount string, rps, others int) Volume {
		v := Volume{MountPoint: mount}
		for i := range rps + others {
			typ := ProtectorTPM
			if i < rps {
				typ = ProtectorRecoveryPassword
			}
			v.Protectors = append(v.Protectors, Protector{ID: fmt.Sprintf("{%08X-0000-4000-8000-000000000000}", i), Type: typ})
		}
		return v
	}
	tests := []struct {
		vols []Volume
		err  string
	}{
		{[]Volume{vol("C:", 2, 1)}, ""},
		{[]Volume{vol("C:", 1, 31)}, ""},
		{[]Volume{vol("C:", 1, 32)}, "33 key protectors on C:"},
		{[]Volume{vol("C:", 16, 0), vol("D:", 16, 0)}, ""},
		{[]Volume{vol("C:", 16, 0), vol("D:", 17, 0)}, "33 recovery passwords"},
	}
	for _, tt := range tests {
		err := CheckLimits(tt.vols)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("unexpected error %v", err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrProtocol)):
			t.Errorf("error %v, want a protocol error with %q", err, tt.err)
		}
	}
}
