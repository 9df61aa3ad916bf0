package escrow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"filippo.io/age"

	"github.com/bitaudit/bitaudit/model"
)

// A PasswordReader reads a protector's recovery password from the host
// over the protected channel (winrm.Collector.ReadRecoveryPassword).
type PasswordReader interface {
	ReadRecoveryPassword(ctx context.Context, t model.Target, mount, id string) (model.Secret, error)
}

// An Exporter writes recovery passwords to the external key store,
// encrypted with age to the policy's recipients, as
// <store>/<COMPUTERNAME>/<PROTECTOR ID>.age: the computer's own folder, named
// from the operator's identity of the target, never from what the host
// reports. The clear password is held only in memory: it is read from the
// host, encrypted in a buffer, and only the ciphertext reaches the disk.
type Exporter struct {
	dir        string
	recipients []age.Recipient
	reader     PasswordReader
}

// NewExporter checks the store and recipients (age X25519, "age1…").
func NewExporter(dir string, recipients []string, r PasswordReader) (*Exporter, error) {
	if dir == "" {
		return nil, errors.New("external key store: no directory configured")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("external key store %s: not a directory", dir)
	}
	if len(recipients) == 0 {
		return nil, errors.New("external key store: no age recipients")
	}
	e := &Exporter{dir: dir, reader: r}
	for _, s := range recipients {
		rc, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("age recipient %q: %w", s, err)
		}
		e.recipients = append(e.recipients, rc)
	}
	return e, nil
}

// computerNameRE is a NetBIOS computer name: what a folder may be named.
var computerNameRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{0,14}$`)

// Export reads protector id of volume mount from t and writes it,
// encrypted, into the folder of h's confirmed identity. It returns the
// file's name relative to the store ("FOLDER/{ID}.age").
func (e *Exporter) Export(ctx context.Context, t model.Target, h *model.HostResult, mount, id string) (string, error) {
	folder := ""
	if h != nil {
		folder = h.Identity.GivenName()
	}
	if !computerNameRE.MatchString(folder) {
		return "", fmt.Errorf("%s: no computer name of the operator's to name its folder in the key store", t)
	}
	norm := model.NormalizeProtectorID(id)
	if !model.IsGUID(norm) {
		return "", fmt.Errorf("%s: protector ID is not a GUID", t)
	}
	name := "{" + strings.ToUpper(norm) + "}.age"
	secret, err := e.reader.ReadRecoveryPassword(ctx, t, mount, id)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, e.recipients...)
	if err != nil {
		return "", fmt.Errorf("age: %w", err)
	}
	if _, err := w.Write([]byte(secret.Reveal())); err != nil {
		return "", fmt.Errorf("age: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("age: %w", err)
	}
	dir := filepath.Join(e.dir, folder)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("external key store: %w", err)
	}
	if err := writeSynced(dir, name, buf.Bytes()); err != nil {
		return "", fmt.Errorf("external key store: %w", err)
	}
	return folder + "/" + name, nil
}

// writeSynced writes data to dir/name through a temporary file, synced and
// renamed into place, then syncs dir: the file is there whole or not at all.
func writeSynced(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
