package wmi

import (
	"context"
	"time"

	"github.com/bitaudit/bitaudit/collectors/bitlocker"
	"github.com/bitaudit/bitaudit/model"
)

// A Collector reads the local host's facts.
type Collector struct {
	read func(ctx context.Context) (*Snapshot, error)
	now  func() time.Time
}

// New returns a Collector that reads this machine through WMI.
func New() *Collector { return &Collector{read: readLocal, now: time.Now} }

// Local is the outcome of one local collection.
type Local struct {
	Facts       model.HostFacts
	Volumes     []model.Volume
	MachineSID  string
	CollectedAt time.Time
}

// Collect reads this machine's BitLocker facts. Errors wrap the model
// sentinels as the WinRM collector's do (a failed volumes section is
// model.ErrNoData; access denied also model.ErrAuth); off Windows the error
// is [ErrNotWindows].
func (c *Collector) Collect(ctx context.Context) (Local, error) {
	at := c.now().UTC()
	snap, err := c.read(ctx)
	if err != nil {
		return Local{}, err
	}
	facts, vols, err := Decode(snap)
	if err != nil {
		return Local{}, err
	}
	return Local{Facts: facts, Volumes: vols, MachineSID: snap.MachineSID, CollectedAt: at}, nil
}

// Decode turns a snapshot into model facts and volumes through the same
// decoder the WinRM collector uses.
func Decode(s *Snapshot) (model.HostFacts, []model.Volume, error) {
	facts, vols, err := bitlocker.DecodeCollection(bitlocker.Frame(s.Sections()...))
	if err != nil {
		return facts, nil, err
	}
	facts.Source.Collector = "wmi"
	return facts, vols, nil
}
