package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// JournalName is the journal's file name in the output directory.
const JournalName = "journal.jsonl"

// Journal record kinds.
const (
	RecordIntent  = "intent"
	RecordOutcome = "outcome"
)

// Outcome results a journal records.
const (
	// ResultDone: the host reported success.
	ResultDone = "done"
	// ResultFailed: the host reported failure, or the action could not be
	// sent; nothing changed.
	ResultFailed = "failed"
	// ResultUnknown: the command reached the host but no answer came back;
	// the action may or may not have happened.
	ResultUnknown = "unknown"
)

// A JournalRecord is one line of journal.jsonl: an intent, written and
// synced before an action is sent, or its outcome, written after.
type JournalRecord struct {
	Record string `json:"record"`
	// Action identifies the action across runs (see [Action.ID]).
	Action      string         `json:"action"`
	Run         string         `json:"run,omitempty"`
	Kind        ActionKind     `json:"kind"`
	Host        string         `json:"host"`
	Volume      string         `json:"volume"`
	ProtectorID string         `json:"protector_id,omitempty"`
	Location    model.Location `json:"location,omitempty"`
	Time        time.Time      `json:"time"`
	// Result and Error are set on outcomes.
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
	// NewProtectorID is the protector an add-recovery-password action created.
	NewProtectorID string `json:"new_protector_id,omitempty"`
}

// A Journal appends records to journal.jsonl, each synced to disk (and the
// directory, when the file is new) before Write returns, so that after a
// crash or kill at any point every action sent has its intent on disk.
// It is safe for concurrent use.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// OpenJournal opens (creating it if needed) the journal in dir and returns
// the records already in it. A last line cut short by a crash is dropped
// (it was never acknowledged); any other malformed line is an error naming it.
func OpenJournal(dir string) (*Journal, []JournalRecord, error) {
	path := filepath.Join(dir, JournalName)
	prev, torn, err := ReadJournal(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	created := errors.Is(err, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{f: f, path: path}
	if created {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	if torn {
		// The cut-short record was never acknowledged: drop it, so the
		// next record starts on a line of its own and the file parses.
		if err := dropTornTail(path); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	return j, prev, nil
}

// dropTornTail truncates path after its last newline.
func dropTornTail(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := os.Truncate(path, int64(bytes.LastIndexByte(data, '\n')+1)); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// Path returns the journal file's path.
func (j *Journal) Path() string { return j.path }

// Write appends r as one line and syncs the file.
func (j *Journal) Write(r JournalRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: sync: %w", j.path, err)
	}
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.f.Close() }

// ReadJournal reads a journal file. torn reports a last line without its
// newline (a write cut short), which is skipped.
func ReadJournal(path string) (recs []JournalRecord, torn bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	r := bufio.NewReader(bytes.NewReader(data))
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return recs, len(bytes.TrimSpace(b)) > 0, nil
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		var rec JournalRecord
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return nil, false, fmt.Errorf("journal %s:%d: %w", path, line, err)
		}
		if rec.Record != RecordIntent && rec.Record != RecordOutcome || rec.Action == "" {
			return nil, false, fmt.Errorf("journal %s:%d: not an intent or outcome record", path, line)
		}
		recs = append(recs, rec)
	}
}

// syncDir syncs a directory so a file created in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: sync %s: %w", dir, err)
	}
	return nil
}

// A JournalEntry is what the journal says about one action: its last
// intent and, if written, the outcome that followed it.
type JournalEntry struct {
	Intent  JournalRecord
	Outcome *JournalRecord
}

// Interrupted reports an intent without outcome: the action may or may
// not have happened.
func (e JournalEntry) Interrupted() bool { return e.Outcome == nil }

// Replay folds records into one entry per action ID, the latest attempt
// winning, in order of each action's first intent.
func Replay(recs []JournalRecord) ([]string, map[string]JournalEntry) {
	var order []string
	m := map[string]JournalEntry{}
	for _, r := range recs {
		e, seen := m[r.Action]
		switch r.Record {
		case RecordIntent:
			if !seen {
				order = append(order, r.Action)
			}
			e = JournalEntry{Intent: r}
		case RecordOutcome:
			if !seen {
				order = append(order, r.Action)
				e.Intent = r
				e.Intent.Record = RecordIntent
			}
			o := r
			e.Outcome = &o
		}
		m[r.Action] = e
	}
	return order, m
}
