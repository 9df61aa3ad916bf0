package tlsbind

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// TestVectors checks the bindings of RSA (SHA-1, SHA-256, SHA-512) and
// ECDSA P-384 (SHA-384) certificates against values computed outside Go:
// the certificate hash by openssl dgst, the struct's MD5 by Python
// (testdata/vectors.txt). A SHA-1 certificate is hashed with SHA-256.
func TestVectors(t *testing.T) {
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		name, certHash, md5hex := fields[0], fields[1], fields[2]
		b, err := os.ReadFile("testdata/" + name + ".pem")
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		app, err := ServerEndPoint(cert)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := hex.DecodeString(certHash)
		if !bytes.Equal(app, append([]byte("tls-server-end-point:"), want...)) {
			t.Errorf("%s: ServerEndPoint = %x", name, app)
		}
		h, err := Hash(cert)
		if err != nil || hex.EncodeToString(h) != md5hex {
			t.Errorf("%s: Hash = %x, %v; want %s", name, h, err, md5hex)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("%d vectors", n)
	}
	if _, err := Hash(nil); err == nil {
		t.Error("Hash(nil) succeeded")
	}
}
