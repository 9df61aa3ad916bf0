//go:build !unix

package main

// raiseFileLimit does nothing where there is no RLIMIT_NOFILE (Windows has
// no per-process open-file limit of that kind); 0 means unknown.
func raiseFileLimit() (uint64, error) { return 0, nil }
