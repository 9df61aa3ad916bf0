//go:build unix

package main

import "syscall"

// raiseFileLimit raises the soft open-file limit to the hard limit (as
// simulate does) and returns the limit now in force.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		raised := l
		raised.Cur = l.Max
		// Where the hard limit is unlimited the kernel may refuse it
		// (macOS caps at OPEN_MAX); keep the current limit then.
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			l = raised
		}
	}
	return uint64(l.Cur), nil
}
