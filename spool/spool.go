// Package spool keeps a run's host results on disk as the hosts finish, so
// what a run holds in memory does not grow with its fleet: each result is
// one JSON record in a temporary file, and memory holds only where each
// record is. A 10,000-host run spools about 40 MB and keeps about 200 KB.
//
// A Spool is a [model.HostSource]. A result that cannot be written (a full
// disk) is kept in memory instead, so a write failure never loses a host.
package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/bitaudit/bitaudit/model"
)

// A Spool holds n host results, put in any order and read by index. It is
// safe for concurrent use.
type Spool struct {
	mu      sync.Mutex
	f       file
	removed bool  // the file's name is gone already
	end     int64 // bytes written
	at      []span
	mem     map[int]*model.HostResult // results the file could not take
	werr    error                     // the first write error
	observe func(i int, h *model.HostResult, record []byte)
}

// file is the spool's file: an *os.File, or in tests one that fails.
type file interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	Name() string
}

// A span is where one record is in the file; n == 0: not put.
type span struct {
	off int64
	n   int32
}

// New returns an empty Spool for n hosts, its file created in dir (the
// system's temporary directory when dir is ""), readable by the owner
// only. Close removes it (on Unix, its name is removed at once).
func New(dir string, n int) (*Spool, error) {
	f, err := os.CreateTemp(dir, "bitaudit-spool-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	// Where the system allows it (not Windows), the name goes at once: a
	// run that crashes leaves no file behind.
	removed := os.Remove(f.Name()) == nil
	return &Spool{f: f, removed: removed, at: make([]span, n)}, nil
}

// Len is the number of hosts the spool was made for.
func (s *Spool) Len() int { return len(s.at) }

// Observe makes every later Put that stores a host (in the file, or in
// memory after a write error) call fn with the host and its record (valid
// during the call only), once it is stored. fn may be called from several
// goroutines at once. Set it before the first Put.
func (s *Spool) Observe(fn func(i int, h *model.HostResult, record []byte)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe = fn
}

// Put stores host i, replacing what was put for it before.
func (s *Spool) Put(i int, h *model.HostResult) error {
	if i < 0 || i >= len(s.at) {
		return fmt.Errorf("spool: host %d out of range [0, %d)", i, len(s.at))
	}
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("spool: encode host %s: %w", h.Target, err)
	}
	b = append(b, '\n')
	observe, err := s.put(i, h.Target, b)
	if err == nil && observe != nil {
		observe(i, h, b[:len(b)-1])
	}
	return err
}

// put writes record b of host i, or keeps a copy in memory; it returns the
// observer to call.
func (s *Spool) put(i int, target string, b []byte) (observe func(int, *model.HostResult, []byte), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.werr == nil {
		// Each record is written at once, so a failure loses none before it.
		if _, err := s.f.WriteAt(b, s.end); err != nil {
			s.werr = err
		}
	}
	if s.werr != nil {
		// Keep it: a copy, so the caller may go on changing h.
		if s.mem == nil {
			s.mem = map[int]*model.HostResult{}
		}
		var c model.HostResult
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("spool: copy host %s: %w", target, err)
		}
		s.mem[i] = &c
		s.at[i] = span{}
		return s.observe, nil
	}
	delete(s.mem, i)
	s.at[i] = span{off: s.end, n: int32(len(b))}
	s.end += int64(len(b))
	return s.observe, nil
}

// WriteErr is the first error writing the file, after which results were
// kept in memory; nil when every result is on disk.
func (s *Spool) WriteErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.werr
}

// Raw returns host i's record, the JSON encoding of its result (no
// trailing newline). It fails for a host never put.
func (s *Spool) Raw(i int) ([]byte, error) {
	if i < 0 || i >= len(s.at) {
		return nil, fmt.Errorf("spool: host %d out of range [0, %d)", i, len(s.at))
	}
	s.mu.Lock()
	if h, ok := s.mem[i]; ok {
		s.mu.Unlock()
		return json.Marshal(h)
	}
	sp := s.at[i]
	if sp.n == 0 {
		s.mu.Unlock()
		return nil, fmt.Errorf("spool: host %d was never stored", i)
	}
	s.mu.Unlock()
	b := make([]byte, sp.n)
	if _, err := s.f.ReadAt(b, sp.off); err != nil {
		return nil, fmt.Errorf("spool: read host %d: %w", i, err)
	}
	return b[:len(b)-1], nil
}

// Host returns host i, decoded afresh: the caller owns it.
func (s *Spool) Host(i int) (model.HostResult, error) {
	var h model.HostResult
	b, err := s.Raw(i)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("spool: decode host %d: %w", i, err)
	}
	return h, nil
}

// Close removes the spool's file. The spool is not usable after.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.f.Close()
	if !s.removed {
		err = errors.Join(err, os.Remove(s.f.Name()))
	}
	return err
}
