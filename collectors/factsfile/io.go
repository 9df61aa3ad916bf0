package factsfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// MaxSize bounds a facts file. A real host's document is a few kilobytes
// (500 events at most, a handful of volumes).
const MaxSize = 1 << 20

// Write writes d to path atomically: into a hidden temporary file in the
// same directory, fsynced, then renamed over path, so a reader of the
// directory sees the old file or the new one, never a half-written one.
func Write(path string, d *Document) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("facts document: %w", err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".facts-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, nothing is there
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if runtime.GOOS != "windows" { // a directory cannot be fsynced on Windows
		if df, err := os.Open(dir); err == nil {
			_ = df.Sync()
			df.Close()
		}
	}
	return nil
}

// Read reads and validates one facts file strictly. Its errors name the file.
func Read(path string) (*Document, error) {
	d, _, err := read(path)
	return d, err
}

// read is Read, also returning the SHA-256 of the file's bytes.
func read(path string) (*Document, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, sum, err
	}
	if !fi.Mode().IsRegular() {
		return nil, sum, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() > MaxSize {
		return nil, sum, fmt.Errorf("%s: %d bytes, larger than the %d a facts file may have", path, fi.Size(), MaxSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, sum, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, sum, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxSize {
		return nil, sum, fmt.Errorf("%s: larger than the %d bytes a facts file may have", path, MaxSize)
	}
	d, err := Decode(b)
	if err != nil {
		return nil, sum, fmt.Errorf("%s: %w", path, err)
	}
	return d, sha256.Sum256(b), nil
}

// Decode decodes and validates a facts document: unknown fields, wrong
// types, trailing data, another schema and invalid values are errors.
func Decode(b []byte) (*Document, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var probe struct {
		Schema string `json:"schema"`
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&probe); err != nil {
		return nil, fmt.Errorf("not a facts document: %s", jsonProblem(err))
	}
	if probe.Schema != Schema {
		return nil, fmt.Errorf("schema %q is not %q (written by another version of bitaudit?)", clip(probe.Schema), Schema)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("invalid facts document: %s", jsonProblem(err))
	}
	if dec.More() {
		return nil, errors.New("invalid facts document: data after the document")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// jsonProblem describes a JSON error without quoting the file's content.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s: a JSON %s where %s is expected", te.Field, te.Value, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	if m := err.Error(); strings.HasPrefix(m, "json: unknown field ") {
		return "unknown field " + clip(strings.TrimPrefix(m, "json: unknown field "))
	}
	return "malformed JSON"
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)[1 : len(fmt.Sprintf("%q", s))-1]
}

// A Loaded facts file. Only the document's header (schema, tool,
// collection time, identity) is kept, so a directory of 10,000 files costs
// little memory; its facts are read again, and checked to be the same
// bytes, when the host is audited ([Loaded.Full]).
type Loaded struct {
	// File is the file's name inside the directory.
	File string
	Doc  *Document
	path string
	sum  [sha256.Size]byte
}

// Full reads the file again and returns its whole document; the file must
// still hold the bytes LoadDir read, or the host's facts could be other
// than the identity checked.
func (l *Loaded) Full() (*Document, error) {
	d, sum, err := read(l.path)
	if err != nil {
		return nil, fmt.Errorf("facts file %s could not be read again: %w", l.File, err)
	}
	if sum != l.sum {
		return nil, fmt.Errorf("facts file %s changed while the run read it; audit again", l.File)
	}
	return d, nil
}

// header is the part of d a Loaded keeps.
func (d *Document) header() *Document {
	return &Document{Schema: d.Schema, ToolVersion: d.ToolVersion, CollectedAt: d.CollectedAt, Identity: d.Identity}
}

// maxClockSkew is how far in the future a collection time may lie before
// the file is rejected: a host cannot dodge facts.max_age by post-dating.
const maxClockSkew = time.Hour

// A Set is what LoadDir found in a directory.
type Set struct {
	// Loaded are the usable files, sorted by file name.
	Loaded []Loaded
	// Conflicts are computers that more than one file claims. None of
	// those files is used: each is a host's word about itself, and nothing
	// tells the genuine one from a copy or a forgery.
	Conflicts []Conflict
	// Rejected lists every file not used, and why (conflicting files too).
	Rejected []model.RejectedInput
}

// A Conflict is a computer that several facts files claim.
type Conflict struct {
	// FQDN and ComputerName are the names the files claim (of the newest).
	FQDN, ComputerName string
	Files              []string
}

// names are the lower-case names the conflict is known by, as Document.Names.
func (c Conflict) names() []string {
	var out []string
	if c.FQDN != "" {
		out = append(out, lower(c.FQDN))
	}
	return append(out, lower(c.ComputerName))
}

// LoadDir reads every *.json file directly inside dir. Each file is either
// loaded or rejected with a reason: unreadable, invalid, not a regular
// file, collected after now (beyond an hour of clock skew), or one of
// several files that claim the same computer (a Conflict). A directory that
// cannot be read is an error.
func LoadDir(dir string, now time.Time) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	set := &Set{}
	var loaded []Loaded
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.EqualFold(filepath.Ext(name), ".json") {
			continue // hidden files include Write's temporary files
		}
		if e.Type()&fs.ModeType != 0 {
			set.reject(name, "not a regular file")
			continue
		}
		path := filepath.Join(dir, name)
		d, sum, err := read(path)
		if err != nil {
			set.reject(name, strings.TrimPrefix(err.Error(), filepath.Join(dir, name)+": "))
			continue
		}
		if d.CollectedAt.After(now.Add(maxClockSkew)) {
			set.reject(name, "collected_at "+d.CollectedAt.Format(time.RFC3339)+" is in the future")
			continue
		}
		loaded = append(loaded, Loaded{File: name, Doc: d.header(), path: path, sum: sum})
	}
	for _, group := range claimGroups(loaded) {
		if len(group) == 1 {
			set.Loaded = append(set.Loaded, group[0])
			continue
		}
		// Newest first: the conflict is named as the latest file names it.
		sort.SliceStable(group, func(i, j int) bool { return group[i].Doc.CollectedAt.After(group[j].Doc.CollectedAt) })
		c := Conflict{FQDN: lower(group[0].Doc.Identity.FQDN), ComputerName: group[0].Doc.Identity.ComputerName}
		for _, l := range group {
			c.Files = append(c.Files, l.File)
		}
		sort.Strings(c.Files)
		for _, l := range group {
			var others []string
			for _, f := range c.Files {
				if f != l.File {
					others = append(others, f)
				}
			}
			set.reject(l.File, fmt.Sprintf("claims the computer %s, as %s also does: none is used, since nothing tells the genuine one",
				c.ComputerName, strings.Join(others, ", ")))
		}
		set.Conflicts = append(set.Conflicts, c)
	}
	sort.Slice(set.Loaded, func(i, j int) bool { return set.Loaded[i].File < set.Loaded[j].File })
	sort.Slice(set.Rejected, func(i, j int) bool { return set.Rejected[i].File < set.Rejected[j].File })
	return set, nil
}

func (s *Set) reject(file, reason string) {
	s.Rejected = append(s.Rejected, model.RejectedInput{File: file, Reason: reason})
}

// claimGroups groups files that share a claimed name (FQDN or computer
// name), transitively, in the order of their first file.
func claimGroups(loaded []Loaded) [][]Loaded {
	parent := make([]int, len(loaded))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i, l := range loaded {
		for _, n := range l.Doc.Names() {
			if j, ok := owner[n]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[n] = i
			}
		}
	}
	var groups [][]Loaded
	at := map[int]int{}
	for i, l := range loaded {
		r := find(i)
		g, ok := at[r]
		if !ok {
			g = len(groups)
			at[r] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], l)
	}
	return groups
}

func lower(s string) string { return strings.ToLower(s) }
