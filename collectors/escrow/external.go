package escrow

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// externalStore answers whether a directory holds a key file for a
// protector ID in a given host's folder, and where else it holds one.
// File contents are never read.
//
// Layout (what `--fix` writes too): one folder per computer, named after its
// NetBIOS computer name in upper case, holding the files as Windows names
// them when a recovery key is saved:
//
//	<store>/<COMPUTERNAME>/BitLocker Recovery Key <PROTECTOR ID>.TXT
//	<store>/<COMPUTERNAME>/<PROTECTOR ID>.age   (--fix exports, see Exporter)
//
// Folder names are matched case-insensitively (SMB shares are). A file
// counts for a host only inside that host's own folder; the same ID in
// another folder, or at the store's top level (a flat store), is held
// elsewhere, never verified.
type externalStore struct {
	dir string

	mu      sync.Mutex
	mtime   time.Time           // of dir when index was built
	index   map[string][]string // normalised ID -> "FOLDER/file" (or "file" at the top level), sorted
	folders map[string]string   // upper-case folder name -> name as on disk
	own     map[string]folderFiles
}

// folderFiles is one folder's key files, as of its modification time.
type folderFiles struct {
	mtime time.Time
	files map[string]string // normalised ID -> file name
}

// keyFileID returns the protector ID a file name stands for, if it is named
// as Windows names recovery key files, "BitLocker Recovery Key <ID>.TXT",
// or as --fix names its age-encrypted exports, "<ID>.age"; in any case,
// with or without braces around the ID.
func keyFileID(name string) (string, bool) {
	const prefix, suffix, ageSuffix = "bitlocker recovery key ", ".txt", ".age"
	l := strings.ToLower(name)
	var id string
	switch {
	case strings.HasPrefix(l, prefix) && strings.HasSuffix(l, suffix):
		id = l[len(prefix) : len(l)-len(suffix)]
	case strings.HasSuffix(l, ageSuffix):
		id = l[:len(l)-len(ageSuffix)]
	default:
		return "", false
	}
	id = model.NormalizeProtectorID(id)
	return id, model.IsGUID(id)
}

// lookup returns the key file for id in computer's own folder ("" if none)
// and, when there is none, where else in the store one is ("" if nowhere).
// The host's folder is read again whenever its modification time changed,
// so a file written by --fix is seen at once; the index of other folders
// is rebuilt when the store's top level changes.
func (s *externalStore) lookup(computer, id string) (own, elsewhere string, err error) {
	fi, err := os.Stat(s.dir)
	if err != nil {
		return "", "", fmt.Errorf("external key store: %w", err)
	}
	if !fi.IsDir() {
		return "", "", fmt.Errorf("external key store %s: not a directory", s.dir)
	}
	id = model.NormalizeProtectorID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil || !fi.ModTime().Equal(s.mtime) {
		if err := s.reindex(); err != nil {
			return "", "", err
		}
		s.mtime = fi.ModTime()
	}
	computer = strings.ToUpper(computer)
	if folder, ok := s.folders[computer]; ok && computer != "" {
		ff, err := s.folder(folder)
		if err != nil {
			return "", "", err
		}
		if f := ff.files[id]; f != "" {
			return filepath.ToSlash(filepath.Join(folder, f)), "", nil
		}
	}
	for _, p := range s.index[id] {
		if dir, _, ok := strings.Cut(p, "/"); !ok || strings.ToUpper(dir) != computer || computer == "" {
			return "", p, nil
		}
	}
	return "", "", nil
}

// folder returns a folder's key files, read again when it changed.
func (s *externalStore) folder(name string) (folderFiles, error) {
	fi, err := os.Stat(filepath.Join(s.dir, name))
	if err != nil {
		return folderFiles{}, fmt.Errorf("external key store: %w", err)
	}
	if ff, ok := s.own[name]; ok && ff.mtime.Equal(fi.ModTime()) {
		return ff, nil
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, name))
	if err != nil {
		return folderFiles{}, fmt.Errorf("external key store: %w", err)
	}
	ff := folderFiles{mtime: fi.ModTime(), files: map[string]string{}}
	for _, e := range entries {
		if kid, ok := keyFileID(e.Name()); ok && e.Type().IsRegular() {
			if prev, dup := ff.files[kid]; !dup || e.Name() < prev {
				ff.files[kid] = e.Name()
			}
		}
	}
	s.own[name] = ff
	return ff, nil
}

// reindex lists the store's top level and every computer folder in it.
func (s *externalStore) reindex() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("external key store: %w", err)
	}
	s.index, s.folders, s.own = map[string][]string{}, map[string]string{}, map[string]folderFiles{}
	for _, e := range entries {
		switch {
		case e.IsDir():
			s.folders[strings.ToUpper(e.Name())] = e.Name()
			ff, err := s.folder(e.Name())
			if err != nil {
				return err
			}
			for kid, f := range ff.files {
				s.index[kid] = append(s.index[kid], e.Name()+"/"+f)
			}
		case e.Type().IsRegular():
			if kid, ok := keyFileID(e.Name()); ok {
				s.index[kid] = append(s.index[kid], e.Name())
			}
		}
	}
	for _, l := range s.index {
		sort.Strings(l)
	}
	return nil
}
