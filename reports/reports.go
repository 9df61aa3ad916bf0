package reports

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bitaudit/bitaudit/model"
)

// Format is an output format of [WriteAll].
type Format string

// The output formats. JSON (result.json) is always written by [WriteAll].
const (
	FormatJSON Format = "json"
	FormatPDF  Format = "pdf"
	FormatXLSX Format = "xlsx"
	FormatCSV  Format = "csv"
)

// Formats lists every format, in the order files are written.
var Formats = []Format{FormatJSON, FormatPDF, FormatXLSX, FormatCSV}

// File names written into the output directory.
const (
	ResultFile   = "result.json"
	PDFFile      = "report.pdf"
	XLSXFile     = "report.xlsx"
	CSVFile      = "report.csv"
	ManifestName = "manifest.json"
	// JournalFile is the --fix journal, written into the output directory
	// by the fix pass and listed in the manifest through [Options.Include].
	JournalFile = "journal.jsonl"
)

// FileName returns the file name a format is written to.
func (f Format) FileName() string {
	switch f {
	case FormatJSON:
		return ResultFile
	case FormatPDF:
		return PDFFile
	case FormatXLSX:
		return XLSXFile
	case FormatCSV:
		return CSVFile
	}
	return ""
}

// ParseFormats parses a comma-separated list of formats ("pdf,xlsx"), or
// "all". Names are case-insensitive; duplicates are dropped and the result
// follows the order of [Formats].
func ParseFormats(s string) ([]Format, error) {
	if strings.EqualFold(strings.TrimSpace(s), "all") {
		return append([]Format(nil), Formats...), nil
	}
	want := map[Format]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if (Format(name)).FileName() == "" {
			return nil, fmt.Errorf("unknown report format %q (want a comma-separated list of %s, or all)", name, validNames())
		}
		want[Format(name)] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no report format given (want a comma-separated list of %s, or all)", validNames())
	}
	var out []Format
	for _, f := range Formats {
		if want[f] {
			out = append(out, f)
		}
	}
	return out, nil
}

func validNames() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// Options control [WriteAll].
type Options struct {
	// Formats to write besides result.json; nil means all.
	Formats []Format
	// SignKey, when set, signs the manifest with Ed25519.
	SignKey ed25519.PrivateKey
	// Logger receives one line per file written; nil discards.
	Logger *slog.Logger
	// Replace removes, once the new bundle is written, every file of an
	// earlier bundle in the directory that this one does not rewrite, so no
	// stale report sits beside the new result. Without it, WriteAll writes
	// into a directory that holds no bundle file ([BundleFiles]) or fails.
	Replace bool
	// PDFFont, when set, is the TrueType font report.pdf is drawn with
	// (see [PDFOptions.Font]); characters the font cannot draw are logged.
	PDFFont []byte
	// Include names files of this run the caller has already written into
	// the directory (the --fix journal): they are hashed into the manifest
	// as they are, so verify covers them and Replace keeps them.
	Include []string
	// Concurrent renders the files at once: faster on several cores, at
	// the cost of holding every renderer's memory together. A fleet run,
	// which holds its results too, renders one file after another.
	Concurrent bool
}

// BundleFiles returns the names in dir that [WriteAll] writes (or left
// half-written: the temporary names it renames from), sorted. Other files
// in dir are not listed.
func BundleFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if isBundleName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// bundleNames are the names WriteAll writes.
var bundleNames = []string{ResultFile, PDFFile, XLSXFile, CSVFile, ManifestName, JournalFile}

func isBundleName(name string) bool {
	for _, own := range bundleNames {
		if name == own || strings.HasPrefix(name, "."+own+".") {
			return true
		}
	}
	return false
}

// WriteAll writes result.json (always), then report.pdf, report.xlsx and
// report.csv as selected, then manifest.json with the SHA-256 of each into
// dir, creating it if needed. Each file is written to a temporary name and
// renamed into place, so a file under its final name is always complete.
func WriteAll(ctx context.Context, dir string, r *model.Result, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	formats := o.Formats
	if formats == nil {
		formats = Formats
	}
	for _, f := range formats {
		if f.FileName() == "" {
			return fmt.Errorf("unknown report format %q (want %s)", f, validNames())
		}
	}
	if r == nil {
		return errNilResult
	}
	// 0700 and 0600: the reports list host names and protector IDs.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create report directory: %w", err)
	}
	earlier, err := BundleFiles(dir)
	if err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	if len(earlier) > 0 && !o.Replace {
		return fmt.Errorf("%s already holds %s of an earlier bundle; refusing to mix two runs", dir, strings.Join(earlier, ", "))
	}
	// One pass over the hosts orders them for every format (and finds their
	// characters, for the PDF's font); each format then reads the hosts it
	// lists again from r's source, one at a time.
	v, err := newView(r)
	if err != nil {
		return err
	}
	var glyphs *glyphCheck
	if slices.Contains(formats, FormatPDF) {
		if o.PDFFont != nil {
			if err := CheckPDFFont(o.PDFFont); err != nil {
				return fmt.Errorf("PDF font: %w", err)
			}
		}
		if glyphs, err = newGlyphCheck(o.PDFFont, r); err != nil {
			return err
		}
		glyphs.hosts(v.hostRunes)
	}
	m := newManifest(r)
	// Every file renders from r alone into its own file, so with
	// o.Concurrent they render at once (a 10,000-host bundle is CPU-bound);
	// the manifest lists them in format order.
	type job struct {
		name string
		// render writes the file; nil when another job's render writes
		// it (and sets sum, size and err).
		render func(io.Writer) error
		sum    string
		size   int64
		err    error
	}
	var jobs []*job
	write := func(name string, render func(io.Writer) error) error {
		jobs = append(jobs, &job{name: name, render: render})
		return nil
	}
	if err := write(ResultFile, func(w io.Writer) error { return WriteJSON(w, r) }); err != nil {
		return err
	}
	for _, f := range formats {
		var render func(io.Writer) error
		switch f {
		case FormatJSON:
			continue
		case FormatPDF:
			render = func(w io.Writer) error {
				return writePDF(w, r, v, glyphs.done(r), PDFOptions{Font: o.PDFFont, Warn: func(msg string) { log.Warn("report.pdf: " + msg) }})
			}
		case FormatXLSX:
			render = func(w io.Writer) error { return writeXLSX(w, r, v) }
		case FormatCSV:
			render = func(w io.Writer) error { return writeCSV(w, v) }
		default:
			return fmt.Errorf("unknown report format %q", f)
		}
		if err := write(f.FileName(), render); err != nil {
			return err
		}
	}
	// The XLSX and the CSV both list every host: report.csv is written as
	// the XLSX's pass reads them, so each host is read once for both.
	xi := slices.IndexFunc(jobs, func(j *job) bool { return j.name == XLSXFile })
	ci := slices.IndexFunc(jobs, func(j *job) bool { return j.name == CSVFile })
	if xi >= 0 && ci >= 0 {
		xj := jobs[xi]
		xj.render = nil
		jobs[ci].render = func(w io.Writer) error {
			rows, err := newCSVRows(w)
			if err != nil {
				return err
			}
			xj.sum, xj.size, xj.err = writeFile(filepath.Join(dir, XLSXFile), func(w io.Writer) error { return writeXLSX(w, r, v, rows.add) })
			if xj.err != nil {
				return fmt.Errorf("with %s: %w", XLSXFile, xj.err)
			}
			return rows.flush()
		}
	}
	run := func(j *job) {
		if j.render == nil {
			return
		}
		if j.err = ctx.Err(); j.err == nil {
			j.sum, j.size, j.err = writeFile(filepath.Join(dir, j.name), j.render)
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		if !o.Concurrent {
			if run(j); j.err != nil {
				break
			}
			continue
		}
		wg.Go(func() { run(j) })
	}
	wg.Wait()
	for _, j := range jobs {
		if j.err != nil {
			return fmt.Errorf("write %s: %w", j.name, j.err)
		}
		m.add(j.name, j.sum, j.size)
		if j.name == ResultFile {
			m.ResultSHA256 = j.sum
		}
		log.Info("report written", "file", filepath.Join(dir, j.name), "bytes", j.size)
	}
	for _, name := range o.Include {
		if name != filepath.Base(name) || name == ManifestName || slices.ContainsFunc(m.Files, func(e ManifestEntry) bool { return e.Name == name }) {
			return fmt.Errorf("include %q: not a file name of its own in the bundle", name)
		}
		sum, size, err := hashFile(filepath.Join(dir, name), math.MaxInt64-1)
		if err != nil {
			return fmt.Errorf("include %s: %w", name, err)
		}
		m.add(name, sum, size)
	}
	if o.SignKey != nil {
		if err := m.sign(o.SignKey); err != nil {
			return err
		}
	}
	b, err := m.encode()
	if err != nil {
		return err
	}
	if _, _, err := writeFile(filepath.Join(dir, ManifestName), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}); err != nil {
		return fmt.Errorf("write %s: %w", ManifestName, err)
	}
	log.Info("manifest written", "file", filepath.Join(dir, ManifestName), "signed", o.SignKey != nil)
	written := map[string]bool{ManifestName: true}
	for _, f := range m.Files {
		written[f.Name] = true
	}
	var errs []error
	for _, name := range earlier {
		if written[name] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove stale %s: %w", name, err))
			continue
		}
		log.Info("stale file of an earlier bundle removed", "file", filepath.Join(dir, name))
	}
	return errors.Join(errs...)
}

// writeFile renders into a temporary file beside path, syncs it and renames
// it into place, returning the SHA-256 and size of what was written.
func writeFile(path string, render func(io.Writer) error) (sum string, size int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, h), 64<<10)
	cw := &countWriter{w: bw}
	if err := render(cw); err != nil {
		return "", 0, err
	}
	if err := bw.Flush(); err != nil {
		return "", 0, err
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, err
	}
	if err := tmp.Close(); err != nil {
		return "", 0, err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// errWriter remembers the first write error, for writers that do not return one.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

var errNilResult = errors.New("nil result")

// hasher returns the hex SHA-256 of b.
func hashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
