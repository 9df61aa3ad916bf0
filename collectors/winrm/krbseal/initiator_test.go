package krbseal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// testTicket is a syntactically valid service ticket; its encrypted part
// is never opened by these tests.
func testTicket() messages.Ticket {
	return messages.Ticket{
		TktVNO:  5,
		Realm:   "CORP.EXAMPLE.TEST",
		SName:   types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/win1.corp.example.test"),
		EncPart: types.EncryptedData{EType: etypeID.AES256_CTS_HMAC_SHA1_96, KVNO: 2, Cipher: []byte{1, 2, 3}},
	}
}

// acceptAPReq plays the host: it opens our SPNEGO token, decrypts the
// authenticator with the session key and returns the AP-REQ.
func acceptAPReq(t *testing.T, tok []byte, key types.EncryptionKey) messages.APReq {
	t.Helper()
	var sp spnego.SPNEGOToken
	if err := sp.Unmarshal(tok); err != nil || !sp.Init {
		t.Fatalf("SPNEGO init token: %v", err)
	}
	if len(sp.NegTokenInit.MechTypes) != 1 || !sp.NegTokenInit.MechTypes[0].Equal(gssapi.OIDKRB5.OID()) {
		t.Fatalf("mechTypes %v, want Kerberos only (never NTLM)", sp.NegTokenInit.MechTypes)
	}
	id, msg, err := parseKRB5Token(sp.NegTokenInit.MechTokenBytes)
	if err != nil || string(id) != string(tokAPReq) {
		t.Fatalf("krb5 token %x: %v", id, err)
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		t.Fatal(err)
	}
	if err := req.DecryptAuthenticator(key); err != nil {
		t.Fatal(err)
	}
	return req
}

// buildAPRep is the host's AP-REP (RFC 4120 §5.5.2) as a GSS krb5 token
// inside an SPNEGO accept-completed NegTokenResp.
func buildAPRep(t *testing.T, key types.EncryptionKey, part messages.EncAPRepPart) []byte {
	t.Helper()
	type encPart struct {
		CTime          time.Time           `asn1:"generalized,explicit,tag:0"`
		Cusec          int                 `asn1:"explicit,tag:1"`
		Subkey         types.EncryptionKey `asn1:"optional,explicit,tag:2"`
		SequenceNumber int64               `asn1:"optional,explicit,tag:3"`
	}
	b, err := asn1.Marshal(encPart(part))
	if err != nil {
		t.Fatal(err)
	}
	ed, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(b, 27), key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: 15, EncPart: ed})
	if err != nil {
		t.Fatal(err)
	}
	mech, err := krb5Token(tokAPRep, asn1tools.AddASNAppTag(rb, 15))
	if err != nil {
		t.Fatal(err)
	}
	resp := spnego.SPNEGOToken{Resp: true, NegTokenResp: spnego.NegTokenResp{
		NegState: asn1.Enumerated(spnego.NegStateAcceptCompleted), SupportedMech: gssapi.OIDKRB5.OID(), ResponseToken: mech,
	}}
	out, err := resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAPReqAndAPRep(t *testing.T) {
	sessionKey := randomKey(t, etypeID.AES256_CTS_HMAC_SHA1_96, 32)
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "auditor")
	in, tok, err := newInitiator("CORP.EXAMPLE.TEST", cname, testTicket(), sessionKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := acceptAPReq(t, tok, sessionKey)
	if !types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) {
		t.Error("AP options do not require mutual authentication")
	}
	auth := req.Authenticator
	if auth.Cksum.CksumType != 0x8003 || len(auth.Cksum.Checksum) != 24 {
		t.Fatalf("checksum type %#x, %d bytes", auth.Cksum.CksumType, len(auth.Cksum.Checksum))
	}
	if got := binary.LittleEndian.Uint32(auth.Cksum.Checksum[20:]); got != 0x3e {
		t.Errorf("context flags %#x, want mutual|replay|sequence|conf|integ (0x3e)", got)
	}
	if auth.SubKey.KeyType != etypeID.AES256_CTS_HMAC_SHA1_96 || len(auth.SubKey.KeyValue) != 32 || auth.SeqNumber >= 1<<30 {
		t.Fatalf("authenticator subkey %d/%d bytes, seq %d", auth.SubKey.KeyType, len(auth.SubKey.KeyValue), auth.SeqNumber)
	}

	hostSubkey := randomKey(t, etypeID.AES256_CTS_HMAC_SHA1_96, 32)
	rep := buildAPRep(t, sessionKey, messages.EncAPRepPart{CTime: auth.CTime, Cusec: auth.Cusec, Subkey: hostSubkey, SequenceNumber: 424242})
	sess, err := in.verifyAPRep(rep)
	if err != nil {
		t.Fatal(err)
	}
	// The host's side of the context: its subkey, its sequence number.
	host, err := NewSession(hostSubkey, false, true, 424242, uint64(auth.SeqNumber))
	if err != nil {
		t.Fatal(err)
	}
	sig, data, _ := sess.Seal([]byte("<s:Envelope/>"))
	if got, err := host.Unseal(sig, data); err != nil || string(got) != "<s:Envelope/>" {
		t.Fatalf("host Unseal = %q, %v", got, err)
	}
	sig, data, _ = host.Seal([]byte("<s:Reply/>"))
	if got, err := sess.Unseal(sig, data); err != nil || string(got) != "<s:Reply/>" {
		t.Fatalf("client Unseal = %q, %v", got, err)
	}

	t.Run("no acceptor subkey: initiator subkey", func(t *testing.T) {
		rep := buildAPRep(t, sessionKey, messages.EncAPRepPart{CTime: auth.CTime, Cusec: auth.Cusec, SequenceNumber: 5})
		sess, err := in.verifyAPRep(rep)
		if err != nil {
			t.Fatal(err)
		}
		host, _ := NewSession(auth.SubKey, false, false, 5, uint64(auth.SeqNumber))
		sig, data, _ := sess.Seal([]byte("m"))
		if _, err := host.Unseal(sig, data); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAPRepRejected(t *testing.T) {
	sessionKey := randomKey(t, etypeID.AES128_CTS_HMAC_SHA1_96, 16)
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "auditor")
	in, tok, err := newInitiator("CORP.EXAMPLE.TEST", cname, testTicket(), sessionKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := acceptAPReq(t, tok, sessionKey).Authenticator
	sub := randomKey(t, etypeID.AES128_CTS_HMAC_SHA1_96, 16)
	rc4 := types.EncryptionKey{KeyType: etypeID.RC4_HMAC, KeyValue: make([]byte, 16)}
	for name, c := range map[string]struct {
		rep  []byte
		want error
	}{
		"wrong session key": {buildAPRep(t, randomKey(t, etypeID.AES128_CTS_HMAC_SHA1_96, 16), messages.EncAPRepPart{CTime: auth.CTime, Cusec: auth.Cusec, Subkey: sub}), ErrMutual},
		"other ctime":       {buildAPRep(t, sessionKey, messages.EncAPRepPart{CTime: auth.CTime.Add(time.Minute), Cusec: auth.Cusec, Subkey: sub}), ErrMutual},
		"other cusec":       {buildAPRep(t, sessionKey, messages.EncAPRepPart{CTime: auth.CTime, Cusec: auth.Cusec + 1, Subkey: sub}), ErrMutual},
		"rc4 subkey":        {buildAPRep(t, sessionKey, messages.EncAPRepPart{CTime: auth.CTime, Cusec: auth.Cusec, Subkey: rc4}), ErrEncType},
		"garbage":           {[]byte{0xa1, 0x03, 0x30, 0x01, 0x00}, ErrMutual},
		"not a krb5 token":  {[]byte("NTLMSSP\x00\x02\x00\x00\x00"), ErrMutual},
	} {
		if _, err := in.verifyAPRep(c.rep); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestKRBErrorAnswer(t *testing.T) {
	ke := messages.KRBError{PVNO: 5, MsgType: 30, STime: time.Now().UTC().Truncate(time.Second), ErrorCode: codeSkew,
		Realm: "CORP.EXAMPLE.TEST", SName: types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/win1")}
	b, err := asn1.Marshal(ke)
	if err != nil {
		t.Fatal(err)
	}
	mech, _ := krb5Token(tokKRBError, asn1tools.AddASNAppTag(b, 30))
	in := &initiator{}
	_, err = in.verifyAPRep(mech)
	var he *HostError
	if !errors.As(err, &he) || he.Code != codeSkew {
		t.Fatalf("verifyAPRep(KRB-ERROR) = %v", err)
	}
	var f *Failure
	if err := Explain(err, "HTTP/win1"); !errors.As(err, &f) || f.Reason != "clock skew too great" {
		t.Errorf("Explain = %v", err)
	}
}

func TestGSSChecksum(t *testing.T) {
	c := gssChecksum(nil, 0x3e)
	if c[0] != 16 || !bytes.Equal(c[4:20], make([]byte, 16)) || binary.LittleEndian.Uint32(c[20:]) != 0x3e || len(c) != 24 {
		t.Errorf("gssChecksum without bindings = %x", c)
	}
	h := bytes.Repeat([]byte{0xab}, 16)
	if c := gssChecksum(h, 2); !bytes.Equal(c[4:20], h) {
		t.Errorf("gssChecksum with bindings = %x", c)
	}
}
