package escrow

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKeyFileID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"BitLocker Recovery Key 063EA4E1-220C-4293-BA01-4754620A96E7.TXT", "063ea4e1-220c-4293-ba01-4754620a96e7", true},
		{"bitlocker recovery key {063ea4e1-220c-4293-ba01-4754620a96e7}.txt", "063ea4e1-220c-4293-ba01-4754620a96e7", true},
		{"BitLocker Recovery Key 063EA4E1.TXT", "", false},
		{"BitLocker Recovery Key 063EA4E1-220C-4293-BA01-4754620A96E7.BEK", "", false},
		{"notes.txt", "", false},
	}
	for _, tt := range tests {
		id, ok := keyFileID(tt.name)
		if ok != tt.ok || ok && id != tt.id {
			t.Errorf("keyFileID(%q) = %q, %v; want %q, %v", tt.name, id, ok, tt.id, tt.ok)
		}
	}
}

func TestExternalStoreSeesNewFiles(t *testing.T) {
	dir := t.TempDir()
	s := &externalStore{dir: dir}
	const id = "{063EA4E1-220C-4293-BA01-4754620A96E7}"
	if got, err := s.lookup(id); err != nil || got != "" {
		t.Fatalf("lookup in empty dir = %q, %v", got, err)
	}
	name := "BitLocker Recovery Key 063EA4E1-220C-4293-BA01-4754620A96E7.TXT"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("placeholder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Force a visible modification time change on coarse file systems.
	fi, _ := os.Stat(dir)
	os.Chtimes(dir, fi.ModTime().Add(2e9), fi.ModTime().Add(2e9))
	if got, err := s.lookup(id); err != nil || got != name {
		t.Fatalf("lookup after write = %q, %v; want %q", got, err, name)
	}
	if _, err := (&externalStore{dir: filepath.Join(dir, "nope")}).lookup(id); err == nil {
		t.Error("lookup in a missing dir succeeded")
	}
}
