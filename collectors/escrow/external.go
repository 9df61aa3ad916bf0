package escrow

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// externalStore answers whether a directory holds a key file for a
// protector ID. File contents are never read.
type externalStore struct {
	dir string

	mu    sync.Mutex
	mtime time.Time
	files map[string]string // normalised protector ID -> file name
}

// keyFileID returns the protector ID a file name stands for, if it is named
// as Windows names recovery key files: "BitLocker Recovery Key <ID>.TXT",
// in any case, with or without braces around the ID.
func keyFileID(name string) (string, bool) {
	const prefix, suffix = "bitlocker recovery key ", ".txt"
	l := strings.ToLower(name)
	if !strings.HasPrefix(l, prefix) || !strings.HasSuffix(l, suffix) {
		return "", false
	}
	id := model.NormalizeProtectorID(l[len(prefix) : len(l)-len(suffix)])
	return id, isGUID(id)
}

// lookup returns the name of the key file for id, or "". The directory is
// listed again only when its modification time changed, so a file written
// by --fix is seen by the next lookup.
func (s *externalStore) lookup(id string) (string, error) {
	fi, err := os.Stat(s.dir)
	if err != nil {
		return "", fmt.Errorf("external key store: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("external key store %s: not a directory", s.dir)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil || !fi.ModTime().Equal(s.mtime) {
		entries, err := os.ReadDir(s.dir)
		if err != nil {
			return "", fmt.Errorf("external key store: %w", err)
		}
		files := make(map[string]string, len(entries))
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			if kid, ok := keyFileID(e.Name()); ok {
				if prev, dup := files[kid]; !dup || e.Name() < prev {
					files[kid] = e.Name()
				}
			}
		}
		s.files, s.mtime = files, fi.ModTime()
	}
	return s.files[model.NormalizeProtectorID(id)], nil
}
