package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/reports"
)

// An outDir is the --out directory, checked before any host is contacted.
type outDir struct {
	path string
	// replace: the directory holds an earlier bundle that --force (or
	// demo, for its own output) allows replacing.
	replace bool
	// created: the directory did not exist; it is removed again if the
	// command stops on bad input before writing anything.
	created bool
}

// prepareOutDir makes sure a new bundle can be written into dir: it is
// created if absent, must take a file, and must hold neither files bitaudit
// did not write (verify would fail on them) nor, unless force, an earlier
// run's bundle. Failures are input errors: exit 2, no host contacted.
func prepareOutDir(dir string, force bool) (*outDir, error) {
	o := &outDir{path: dir}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// 0700: the results list host names and protector IDs.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, usageErrorf("--out %s: cannot create it: %v", dir, unwrapPath(err))
		}
		o.created = true
	case err != nil:
		return nil, usageErrorf("--out %s: cannot use it: %v", dir, unwrapPath(err))
	case !fi.IsDir():
		return nil, usageErrorf("--out %s: not a directory", dir)
	}
	if err := probeWritable(dir); err != nil {
		o.discard()
		return nil, usageErrorf("--out %s: cannot write into it (%v); no host contacted", dir, err)
	}
	if o.created {
		return o, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, usageErrorf("--out %s: %v", dir, unwrapPath(err))
	}
	own, err := reports.BundleFiles(dir)
	if err != nil {
		return nil, usageErrorf("--out %s: %v", dir, unwrapPath(err))
	}
	if foreign := len(entries) - len(own); foreign > 0 {
		var names []string
		for _, e := range entries {
			if !slices.Contains(own, e.Name()) && len(names) < 3 {
				names = append(names, e.Name())
			}
		}
		return nil, usageErrorf("--out %s holds %s bitaudit did not write (%s): a results directory holds one run's bundle and nothing else, so verify can vouch for it; choose an empty or new directory",
			dir, plural(foreign, "entry", "entries"), strings.Join(names, ", "))
	}
	// A journal alone is what a fix pass killed before it wrote its
	// results leaves: the rerun continues it, no --force needed.
	if len(own) > 0 && !force && !slices.Equal(own, []string{reports.JournalFile}) {
		return nil, usageErrorf("--out %s holds an earlier run's results (%s): use --force to replace them (stale files are removed), or choose another directory",
			dir, strings.Join(own, ", "))
	}
	o.replace = len(own) > 0
	return o, nil
}

// probeWritable creates and removes a file in dir.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".bitaudit-write-check-*")
	if err != nil {
		return unwrapPath(err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	cerr := f.Close()
	rerr := os.Remove(name)
	return errors.Join(werr, cerr, rerr)
}

// discard removes the directory again if prepareOutDir created it and
// nothing was written into it.
func (o *outDir) discard() {
	if o != nil && o.created {
		os.Remove(o.path) // only succeeds while empty
	}
}

// unwrapPath drops the path a *fs.PathError repeats when the message
// already names it.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// writeResults writes the bundle into o. If that fails, result.json is
// written to a fallback file (in fallbackDir, the system's temporary
// directory when empty) so the audit is not lost, and the error names it.
func writeResults(ctx context.Context, o *outDir, r *model.Result, ro reports.Options, fallbackDir string, log *slog.Logger) error {
	ro.Replace = o.replace
	err := reports.WriteAll(ctx, o.path, r, ro)
	if err == nil {
		return nil
	}
	if fallbackDir == "" {
		fallbackDir = os.TempDir()
	}
	f, ferr := os.CreateTemp(fallbackDir, "bitaudit-result-"+r.Run.ID+"-*.json")
	if ferr == nil {
		ferr = reports.WriteJSON(f, r)
		ferr = errors.Join(ferr, f.Sync(), f.Close())
		if ferr != nil {
			os.Remove(f.Name())
		}
	}
	if ferr != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("writing results to %s: %w; the fallback copy failed too: %v: the result is lost", o.path, err, ferr)}
	}
	log.Error("results could not be written where asked; result.json saved to a fallback file", "out", o.path, "fallback", f.Name())
	return &exitError{code: exitFatal, err: fmt.Errorf("writing results to %s: %w\nthe result was saved to %s; render the reports from it with: bitaudit report --in %s --out DIR",
		o.path, err, f.Name(), f.Name())}
}
