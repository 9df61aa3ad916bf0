package model

// A HostSource holds a run's host results in target order and gives them
// out one at a time, so a run of tens of thousands of hosts can keep them on
// disk (package spool) instead of in memory.
type HostSource interface {
	// Len is the number of hosts.
	Len() int
	// Host returns host i, 0 <= i < Len. The caller must not change what
	// it shares with the source (slices, maps, pointers); a changed host
	// goes back through the source's own Put, where it has one.
	Host(i int) (HostResult, error)
}

// HostSlice is a HostSource over results held in memory.
type HostSlice []HostResult

// Len is the number of hosts.
func (s HostSlice) Len() int { return len(s) }

// Host returns host i.
func (s HostSlice) Host(i int) (HostResult, error) { return s[i], nil }

// EachHost calls fn with every host of src in order and stops at fn's
// first error, which it returns, as it returns the source's.
func EachHost(src HostSource, fn func(i int, h *HostResult) error) error {
	for i := range src.Len() {
		h, err := src.Host(i)
		if err != nil {
			return err
		}
		if err := fn(i, &h); err != nil {
			return err
		}
	}
	return nil
}

// HostSource returns the run's hosts: Source when the run keeps them
// elsewhere (a spool on disk), else Hosts.
func (r *Result) HostSource() HostSource {
	if r.Source != nil {
		return r.Source
	}
	return HostSlice(r.Hosts)
}
