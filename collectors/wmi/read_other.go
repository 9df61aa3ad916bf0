//go:build !windows

package wmi

import "context"

func readLocal(context.Context) (*Snapshot, error) { return nil, ErrNotWindows }
