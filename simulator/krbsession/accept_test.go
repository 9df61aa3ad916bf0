package krbsession

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

const realm = "CORP.EXAMPLE.TEST"

// apReq makes what a client sends: a ticket for sname issued with the
// service key in kt (as a KDC would), and an SPNEGO token carrying the
// AP-REQ with the given context flags, mutual-required.
func apReq(t *testing.T, kt *keytab.Keytab, sname string, ctxFlags uint32, skew time.Duration) ([]byte, types.Authenticator, types.EncryptionKey) {
	t.Helper()
	now := time.Now().UTC()
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "auditor")
	tkt, key, err := messages.NewTicket(cname, realm, types.NewPrincipalName(nametype.KRB_NT_SRV_HST, sname), realm,
		types.NewKrbFlags(), kt, 18, 1, now, now, now.Add(time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := types.NewAuthenticator(realm, cname)
	if err != nil {
		t.Fatal(err)
	}
	auth.CTime = auth.CTime.Add(skew)
	auth.GenerateSeqNumberAndSubKey(18, 32)
	ck := make([]byte, 24)
	binary.LittleEndian.PutUint32(ck, 16)
	binary.LittleEndian.PutUint32(ck[20:], ctxFlags)
	auth.Cksum = types.Checksum{CksumType: 0x8003, Checksum: ck}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	rb, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	mech := asn1tools.AddASNAppTag(append(append(oid, 1, 0), rb...), 0)
	tok, err := (&spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes: []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}, MechTokenBytes: mech}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return tok, auth, key
}

func serviceKeytab(t *testing.T, principals ...string) *keytab.Keytab {
	t.Helper()
	kt := keytab.New()
	for _, p := range principals {
		if err := kt.AddEntry(p, realm, "service-secret-"+p, time.Now(), 1, 18); err != nil {
			t.Fatal(err)
		}
	}
	return kt
}

func TestAccept(t *testing.T) {
	kt := serviceKeytab(t, "HTTP/krb-0001.corp.example.test", "HTTP/krb-0002.corp.example.test")
	acc := NewAcceptor(kt, realm, []string{"KRB-0001", "KRB-0001.corp.example.test"})
	tok, auth, key := apReq(t, kt, "HTTP/krb-0001.corp.example.test", 0x3e, 0)
	got, errTok, err := acc.Accept(tok)
	if err != nil || errTok != nil {
		t.Fatalf("Accept = %v (error token %x)", err, errTok)
	}
	if got.User != "auditor" || got.Realm != realm {
		t.Errorf("client %s@%s", got.User, got.Realm)
	}
	// The reply is SPNEGO accept-completed with an AP-REP the client can
	// open with the ticket's session key, echoing its ctime and cusec.
	var sp spnego.SPNEGOToken
	if err := sp.Unmarshal(got.Reply); err != nil || !sp.Resp || sp.NegTokenResp.NegState != 0 {
		t.Fatalf("reply %x: %v", got.Reply, err)
	}
	var oid asn1.ObjectIdentifier
	rest, err := asn1.UnmarshalWithParams(sp.NegTokenResp.ResponseToken, &oid, "application,explicit,tag:0")
	if err != nil || !bytes.Equal(rest[:2], []byte{2, 0}) {
		t.Fatalf("response token: %v %x", err, rest[:2])
	}
	var rep messages.APRep
	if err := rep.Unmarshal(rest[2:]); err != nil {
		t.Fatal(err)
	}
	plain, err := crypto.DecryptEncPart(rep.EncPart, key, 12)
	if err != nil {
		t.Fatal(err)
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	if !part.CTime.Equal(auth.CTime.Truncate(time.Second)) || part.Cusec != auth.Cusec || part.Subkey.KeyType != 18 || part.SequenceNumber >= 1<<30 {
		t.Errorf("EncAPRepPart %+v", part)
	}

	for name, c := range map[string]struct {
		tok     []byte
		krbCode int32 // 0: no KRB-ERROR expected
	}{
		"ticket for another computer": {first(apReq(t, kt, "HTTP/krb-0002.corp.example.test", 0x3e, 0)), 35},
		"clock skew":                  {first(apReq(t, kt, "HTTP/krb-0001.corp.example.test", 0x3e, 10*time.Minute)), 37},
		"no confidentiality asked":    {first(apReq(t, kt, "HTTP/krb-0001.corp.example.test", 0x02, 0)), 0},
		"replayed":                    {tok, 34},
		"raw NTLMSSP":                 {[]byte("NTLMSSP\x00\x01\x00\x00\x00"), 0},
	} {
		_, errTok, err := acc.Accept(c.tok)
		if !errors.Is(err, ErrReject) {
			t.Errorf("%s: %v, want ErrReject", name, err)
			continue
		}
		if c.krbCode != 0 {
			var sp spnego.SPNEGOToken
			if err := sp.Unmarshal(errTok); err != nil || spnego.NegState(sp.NegTokenResp.NegState) != spnego.NegStateReject {
				t.Errorf("%s: error token %x: %v", name, errTok, err)
				continue
			}
			rest, _ := asn1.UnmarshalWithParams(sp.NegTokenResp.ResponseToken, &oid, "application,explicit,tag:0")
			var ke messages.KRBError
			if err := ke.Unmarshal(rest[2:]); err != nil || ke.ErrorCode != c.krbCode {
				t.Errorf("%s: KRB-ERROR %d (%v), want %d", name, ke.ErrorCode, err, c.krbCode)
			}
		}
	}
}

func first(tok []byte, _ types.Authenticator, _ types.EncryptionKey) []byte { return tok }

// mitVector is as collectors/winrm/krbseal/testdata/mit_vectors.json holds
// them: an MIT context's key and the tokens each side sealed.
type mitVector struct {
	EType  int32  `json:"etype"`
	Key    string `json:"key"`
	Tokens []struct {
		Sender, Plain, Signature, Data string
	} `json:"tokens"`
}

// TestUnwrapMITTokens replays the initiator tokens MIT Kerberos made (the
// auditor's golden vectors, read as data: the simulator imports none of the
// auditor's code), then checks tampering, replay and reflection fail.
func TestUnwrapMITTokens(t *testing.T) {
	b, err := os.ReadFile("../../collectors/winrm/krbseal/testdata/mit_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vecs []mitVector
	if err := json.Unmarshal(b, &vecs); err != nil {
		t.Fatal(err)
	}
	for _, v := range vecs {
		key := types.EncryptionKey{KeyType: v.EType, KeyValue: mustHex(t, v.Key)}
		var c *Context
		var fromInit, fromAcc [][2][]byte
		for _, tok := range v.Tokens {
			pair := [2][]byte{mustHex(t, tok.Signature), mustHex(t, tok.Data)}
			if tok.Sender == "initiator" {
				fromInit = append(fromInit, pair)
				if c == nil {
					c, err = NewTestContext(key, 0, binary.BigEndian.Uint64(pair[0][8:16]))
					if err != nil {
						t.Fatal(err)
					}
				}
				if _, err := c.UnwrapIOV(pair[0], pair[1]); err != nil {
					t.Fatalf("etype %d: MIT initiator token: %v", v.EType, err)
				}
			} else {
				fromAcc = append(fromAcc, pair)
			}
		}
		seq := binary.BigEndian.Uint64(fromInit[0][0][8:16])
		flipped := bytes.Clone(fromInit[1][0])
		flipped[20] ^= 1 // inside the rotated, encrypted trailer
		for name, c2 := range map[string]struct {
			after int // initiator tokens unwrapped first
			tok   [2][]byte
		}{
			"replayed":  {1, fromInit[0]},
			"reflected": {0, fromAcc[0]},
			"tampered":  {1, [2][]byte{flipped, fromInit[1][1]}},
			"skipped":   {0, fromInit[1]},
		} {
			c, _ := NewTestContext(key, 0, seq)
			for _, p := range fromInit[:c2.after] {
				if _, err := c.UnwrapIOV(p[0], p[1]); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.UnwrapIOV(c2.tok[0], c2.tok[1]); !errors.Is(err, ErrVerify) {
				t.Errorf("etype %d, %s: %v, want ErrVerify", v.EType, name, err)
			}
		}
		// Our own sealing: the WinRM layout, a signature of header, RRC
		// trailer and confounder, data as long as the plaintext.
		sig, data, err := c.WrapIOV([]byte("<s:Envelope/>"))
		if err != nil || len(data) != 13 || sig[2] != 0x07 || int(binary.BigEndian.Uint16(sig[6:8])) != c.trailer() || len(sig) != 16+c.trailer()+16 {
			t.Errorf("etype %d: WrapIOV = %x, %d data bytes, %v", v.EType, sig, len(data), err)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
