package factsfile

import (
	"bytes"
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
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes, larger than the %d a facts file may have", path, fi.Size(), MaxSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%s: larger than the %d bytes a facts file may have", path, MaxSize)
	}
	d, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
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

// A Loaded facts file.
type Loaded struct {
	// File is the file's name inside the directory.
	File string
	Doc  *Document
}

// maxClockSkew is how far in the future a collection time may lie before
// the file is rejected: a host cannot dodge facts.max_age by post-dating.
const maxClockSkew = time.Hour

// LoadDir reads every *.json file directly inside dir. Each file is either
// loaded or rejected with a reason; two files for the same computer keep
// the newer collection and reject the other; a collection time after now
// (beyond an hour of clock skew) is rejected. A directory that cannot be
// read is an error.
func LoadDir(dir string, now time.Time) ([]Loaded, []model.RejectedInput, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var (
		loaded   []Loaded
		rejected []model.RejectedInput
	)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.EqualFold(filepath.Ext(name), ".json") {
			continue // hidden files include Write's temporary files
		}
		if e.Type()&fs.ModeType != 0 {
			rejected = append(rejected, model.RejectedInput{File: name, Reason: "not a regular file"})
			continue
		}
		d, err := Read(filepath.Join(dir, name))
		if err != nil {
			rejected = append(rejected, model.RejectedInput{File: name, Reason: strings.TrimPrefix(err.Error(), filepath.Join(dir, name)+": ")})
			continue
		}
		if d.CollectedAt.After(now.Add(maxClockSkew)) {
			rejected = append(rejected, model.RejectedInput{File: name, Reason: "collected_at " + d.CollectedAt.Format(time.RFC3339) + " is in the future"})
			continue
		}
		loaded = append(loaded, Loaded{File: name, Doc: d})
	}
	// Newest first, so the first file seen for a computer is the one kept.
	sort.SliceStable(loaded, func(i, j int) bool {
		return loaded[i].Doc.CollectedAt.After(loaded[j].Doc.CollectedAt)
	})
	keep := loaded[:0]
	owner := map[string]string{}
	for _, l := range loaded {
		var dupOf string
		for _, n := range l.Doc.Names() {
			if f, ok := owner[n]; ok {
				dupOf = f
				break
			}
		}
		if dupOf != "" {
			rejected = append(rejected, model.RejectedInput{File: l.File, Reason: fmt.Sprintf("an older collection (%s) of the computer %s; %s is newer", l.Doc.CollectedAt.Format(time.RFC3339), l.Doc.Identity.ComputerName, dupOf)})
			continue
		}
		for _, n := range l.Doc.Names() {
			owner[n] = l.File
		}
		keep = append(keep, l)
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].File < keep[j].File })
	sort.Slice(rejected, func(i, j int) bool { return rejected[i].File < rejected[j].File })
	return keep, rejected, nil
}

func lower(s string) string { return strings.ToLower(s) }
