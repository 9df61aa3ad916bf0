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

func TestExternalStoreBindsFilesToTheHostFolder(t *testing.T) {
	dir := t.TempDir()
	const id = "{063EA4E1-220C-4293-BA01-4754620A96E7}"
	const name = "BitLocker Recovery Key 063EA4E1-220C-4293-BA01-4754620A96E7.TXT"
	write := func(rel string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("placeholder\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("WS-0002/" + name)
	write(name) // a flat store's file belongs to no host
	s := &externalStore{dir: dir}
	tests := []struct {
		computer, own, elsewhere string
	}{
		{"WS-0002", "WS-0002/" + name, ""},
		{"ws-0002", "WS-0002/" + name, ""}, // folder names match case-insensitively
		{"WS-0001", "", name},              // top level first: sorted
		{"", "", name},
		{"WS-9999", "", name},
	}
	for _, tt := range tests {
		own, other, err := s.lookup(tt.computer, id)
		if err != nil || own != tt.own || other != tt.elsewhere {
			t.Errorf("lookup(%q) = %q, %q, %v; want %q, %q", tt.computer, own, other, err, tt.own, tt.elsewhere)
		}
	}
	if own, other, err := s.lookup("WS-0002", "{11111111-220C-4293-BA01-4754620A96E7}"); own != "" || other != "" || err != nil {
		t.Errorf("unknown ID = %q, %q, %v", own, other, err)
	}
}

func TestExternalStoreSeesNewFiles(t *testing.T) {
	dir := t.TempDir()
	s := &externalStore{dir: dir}
	const id = "{063EA4E1-220C-4293-BA01-4754620A96E7}"
	if got, _, err := s.lookup("WS-0001", id); err != nil || got != "" {
		t.Fatalf("lookup in empty dir = %q, %v", got, err)
	}
	if err := os.Mkdir(filepath.Join(dir, "WS-0001"), 0o700); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.lookup("WS-0001", id); err != nil || got != "" {
		t.Fatalf("lookup in empty folder = %q, %v", got, err)
	}
	name := "BitLocker Recovery Key 063EA4E1-220C-4293-BA01-4754620A96E7.TXT"
	if err := os.WriteFile(filepath.Join(dir, "WS-0001", name), []byte("placeholder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Force a visible modification time change on coarse file systems.
	fi, _ := os.Stat(filepath.Join(dir, "WS-0001"))
	os.Chtimes(filepath.Join(dir, "WS-0001"), fi.ModTime().Add(2e9), fi.ModTime().Add(2e9))
	if got, _, err := s.lookup("WS-0001", id); err != nil || got != "WS-0001/"+name {
		t.Fatalf("lookup after write = %q, %v; want %q", got, err, "WS-0001/"+name)
	}
	if _, _, err := (&externalStore{dir: filepath.Join(dir, "nope")}).lookup("WS-0001", id); err == nil {
		t.Error("lookup in a missing dir succeeded")
	}
}
