//go:build !unix

package factsfile

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs on this system") }
