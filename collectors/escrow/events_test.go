package escrow

import (
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

func TestClaims(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2025, 1, 1, h, 0, 0, 0, time.UTC) }
	const id = "0a0a0a0a-0000-4000-8000-00000000000a"
	ev := []model.BackupEvent{
		{ID: 785, Time: at(1), ProtectorID: "{0A0A0A0A-0000-4000-8000-00000000000A}", ErrorCode: "0x1"},
		{ID: 784, Time: at(2), ProtectorID: "{0A0A0A0A-0000-4000-8000-00000000000A}"},
		{ID: 783, Time: at(3), ProtectorID: "{0A0A0A0A-0000-4000-8000-00000000000A}"},
		{ID: 846, Time: at(4), MountPoint: "c:", ErrorCode: "0x80072ee7"},
		{ID: 845, Time: at(2), ProtectorID: "{0B0B0B0B-0000-4000-8000-00000000000B}", MountPoint: "C:"},
		{ID: 784, Time: at(5), ProtectorID: "{0C0C0C0C-0000-4000-8000-00000000000C}"},
	}
	tests := []struct {
		name            string
		loc             model.Location
		mount           string
		claim, fail     int // event IDs, 0 for none
		claimAt, failAt int
	}{
		{"AD: latest success wins, earlier failure dropped", model.LocationAD, "C:", 783, 0, 3, 0},
		{"Entra: 846 matched by mount point", model.LocationEntra, "C:", 0, 846, 0, 4},
		{"Entra: other volume", model.LocationEntra, "D:", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claim, fail := claims(ev, tt.loc, id, tt.mount)
			if got := eventID(claim); got != tt.claim || claim != nil && claim.Time.Hour() != tt.claimAt {
				t.Errorf("claim = %+v, want %d at %d:00", claim, tt.claim, tt.claimAt)
			}
			if got := eventID(fail); got != tt.fail || fail != nil && fail.Time.Hour() != tt.failAt {
				t.Errorf("fail = %+v, want %d at %d:00", fail, tt.fail, tt.failAt)
			}
		})
	}
}

func eventID(e *model.BackupEvent) int {
	if e == nil {
		return 0
	}
	return e.ID
}
