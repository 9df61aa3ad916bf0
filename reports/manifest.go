package reports

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/bitaudit/bitaudit/model"
)

// ManifestSchema identifies the manifest document.
const ManifestSchema = "bitaudit.manifest/v1"

// A Manifest lists the files of one report bundle with their SHA-256, so
// the bundle can be shown to be the unaltered output of one run.
type Manifest struct {
	Schema      string `json:"schema"`
	RunID       string `json:"run_id"`
	ToolVersion string `json:"tool_version"`
	// ResultSHA256 is the hash of result.json, the document every other file renders.
	ResultSHA256 string          `json:"result_sha256"`
	Files        []ManifestEntry `json:"files"`
	// Signature, when present, is an Ed25519 signature over the manifest
	// encoded without this field (see docs/result-schema.md).
	Signature *Signature `json:"signature,omitempty"`
}

// A ManifestEntry is one file of the bundle.
type ManifestEntry struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// A Signature is an Ed25519 signature of the manifest.
type Signature struct {
	Algorithm string `json:"algorithm"`
	// KeyID is the hex SHA-256 of the signer's public key (PKIX DER).
	KeyID string `json:"key_id"`
	// Value is the base64 (standard) signature.
	Value string `json:"value"`
}

func newManifest(r *model.Result) *Manifest {
	return &Manifest{Schema: ManifestSchema, RunID: r.Run.ID, ToolVersion: r.Run.ToolVersion}
}

func (m *Manifest) add(name, sum string, size int64) {
	m.Files = append(m.Files, ManifestEntry{Name: name, SHA256: sum, Size: size})
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
}

// signedBytes is the canonical encoding the signature covers: the manifest
// without its signature, as encode writes it.
func (m *Manifest) signedBytes() ([]byte, error) {
	c := *m
	c.Signature = nil
	return c.encode()
}

func (m *Manifest) encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

func (m *Manifest) sign(key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("sign manifest: invalid Ed25519 private key")
	}
	msg, err := m.signedBytes()
	if err != nil {
		return err
	}
	id, err := keyID(key.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	m.Signature = &Signature{
		Algorithm: "ed25519",
		KeyID:     id,
		Value:     base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg)),
	}
	return nil
}

func keyID(pub ed25519.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	return hashBytes(der), nil
}

// ReadManifest reads and decodes dir/manifest.json.
func ReadManifest(dir string) (*Manifest, []byte, error) {
	f, err := readRegular(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", ManifestName, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", ManifestName, err)
	}
	if len(b) > maxManifest {
		return nil, nil, fmt.Errorf("%s: larger than %d MiB, not a bitaudit manifest", ManifestName, maxManifest>>20)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if m.Schema != ManifestSchema {
		return nil, nil, fmt.Errorf("%s: unsupported schema %q (want %q)", ManifestName, m.Schema, ManifestSchema)
	}
	return &m, b, nil
}

// A SignatureStatus says what [Verify] established about the manifest's signature.
type SignatureStatus int

const (
	// Unsigned: the manifest carries no signature; only hashes were checked.
	Unsigned SignatureStatus = iota
	// SignatureNotChecked: the manifest is signed but no public key was
	// given, so the signature was not checked. Anyone who can edit the
	// bundle can also recompute its hashes: this proves nothing.
	SignatureNotChecked
	// SignatureValid: the signature was checked with the key given.
	SignatureValid
)

// A Verification is what [Verify] checked.
type Verification struct {
	// Files counts the files checked against the manifest (manifest.json not included).
	Files     int
	Signature SignatureStatus
	// KeyID is the key ID the signature names (hex SHA-256 of the public
	// key), when the manifest is signed.
	KeyID string
}

// maxManifest bounds the manifest read: a bundle's manifest is a few kB.
const maxManifest = 16 << 20

// Verify checks the bundle in dir against its manifest: every listed file
// is a regular file (symbolic links, FIFOs and devices are refused without
// being opened) with the recorded SHA-256 and size, no file the manifest
// does not list is in dir, result.json is listed and is the document the
// manifest names, and the manifest is in the canonical form it was written
// in. With pub set, the manifest must carry a valid Ed25519 signature by
// that key; with pub nil only hashes are checked and the returned
// [Verification] says whether a signature went unchecked. The error names
// every file that does not match.
func Verify(dir string, pub ed25519.PublicKey) (*Verification, error) {
	m, raw, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if canon, err := m.encode(); err != nil || !bytes.Equal(canon, raw) {
		return nil, fmt.Errorf("%s: not in the form bitaudit writes (edited after it was written?)", ManifestName)
	}
	v := &Verification{}
	if m.Signature != nil {
		v.Signature, v.KeyID = SignatureNotChecked, m.Signature.KeyID
	}
	var errs []error
	listed := map[string]bool{ManifestName: true}
	for _, f := range m.Files {
		if f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." || f.Name == ManifestName || listed[f.Name] {
			errs = append(errs, fmt.Errorf("%s: invalid or repeated file name in manifest", f.Name))
			continue
		}
		listed[f.Name] = true
		if f.Name == ResultFile && f.SHA256 != m.ResultSHA256 {
			errs = append(errs, fmt.Errorf("%s: manifest result_sha256 and file entry disagree", f.Name))
		}
		v.Files++
		sum, size, err := hashFile(filepath.Join(dir, f.Name), f.Size)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
		case sum != f.SHA256 || size != f.Size:
			errs = append(errs, fmt.Errorf("%s: SHA-256 mismatch (modified since the manifest was written)", f.Name))
		}
	}
	if !listed[ResultFile] {
		errs = append(errs, fmt.Errorf("%s: not listed in the manifest", ResultFile))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		errs = append(errs, fmt.Errorf("list %s: %w", dir, err))
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			errs = append(errs, fmt.Errorf("%s: not listed in the manifest (left from another run, or added later)", e.Name()))
		}
	}
	if pub != nil {
		if err := verifySignature(m, pub); err != nil {
			errs = append(errs, err)
		} else {
			v.Signature = SignatureValid
		}
	}
	return v, errors.Join(errs...)
}

func verifySignature(m *Manifest, pub ed25519.PublicKey) error {
	if m.Signature == nil {
		return fmt.Errorf("%s: not signed", ManifestName)
	}
	if m.Signature.Algorithm != "ed25519" {
		return fmt.Errorf("%s: unsupported signature algorithm %q", ManifestName, m.Signature.Algorithm)
	}
	id, err := keyID(pub)
	if err != nil {
		return err
	}
	if m.Signature.KeyID != id {
		return fmt.Errorf("%s: signed by key %s, not the key given (%s)", ManifestName, short(m.Signature.KeyID), short(id))
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature.Value)
	if err != nil {
		return fmt.Errorf("%s: signature is not base64: %w", ManifestName, err)
	}
	msg, err := m.signedBytes()
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, msg, sig) {
		return fmt.Errorf("%s: bad signature", ManifestName)
	}
	return nil
}

func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// hashFile hashes the regular file at path, reading at most limit+1 bytes
// (one more than the manifest records, so a longer file shows as changed).
// Anything but a regular file is refused before it is opened: a FIFO would
// block, a device never end, and a symbolic link point outside the bundle.
func hashFile(path string, limit int64) (string, int64, error) {
	b, err := readRegular(path)
	if err != nil {
		return "", 0, err
	}
	defer b.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(b, limit+1))
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// readRegular opens path only if it is a regular file (not followed if it is
// a symbolic link), and checks that the file opened is the one examined.
func readRegular(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s): refused", fileKind(fi.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if now, err := f.Stat(); err != nil || !os.SameFile(fi, now) {
		f.Close()
		return nil, errors.New("replaced while being checked: refused")
	}
	return f, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return "not a plain file"
}

// LoadSigningKey reads an Ed25519 private key from a PEM file ("PRIVATE
// KEY", PKCS #8), as written by [GenerateKey] or `openssl genpkey -algorithm ed25519`.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: %T is not an Ed25519 key", path, k)
	}
	return ek, nil
}

// LoadPublicKey reads an Ed25519 public key from a PEM file ("PUBLIC KEY", PKIX).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %s: %T is not an Ed25519 key", path, k)
	}
	return ek, nil
}

func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("key %s: no PEM block of type %q", path, typ)
		}
		if blk.Type == typ {
			return blk.Bytes, nil
		}
	}
}

// GenerateKey creates an Ed25519 key pair from rand (crypto/rand when nil)
// and returns it PEM-encoded: the private key as PKCS #8, the public key as PKIX.
func GenerateKey(rnd io.Reader) (privatePEM, publicPEM []byte, err error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	pd, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encode private key: %w", err)
	}
	bd, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pd}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: bd}), nil
}
