package krbseal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// GSS-API context flags the initiator asks for (RFC 4121 §4.1.1.1): mutual
// authentication, replay and sequence detection, confidentiality and
// integrity, as pywinrm, Ruby's winrm gem and MIT ask (kerberos.md §2.3).
// No delegation: the auditor never needs a second hop.
const requestedFlags = gssapi.ContextFlagMutual | gssapi.ContextFlagReplay | gssapi.ContextFlagSequence |
	gssapi.ContextFlagConf | gssapi.ContextFlagInteg

// GSS krb5 token IDs (RFC 4121 §4.1).
var (
	tokAPReq    = []byte{0x01, 0x00}
	tokAPRep    = []byte{0x02, 0x00}
	tokKRBError = []byte{0x03, 0x00}
)

// ErrMutual marks a host whose answer does not prove it holds the service
// key: no AP-REP, or one that does not decrypt or match our authenticator.
var ErrMutual = errors.New("kerberos mutual authentication failed")

// An initiator is one context being established: the AP-REQ sent and what
// is needed to check the AP-REP.
type initiator struct {
	sessionKey types.EncryptionKey // the service ticket's session key
	auth       types.Authenticator // ours, with subkey and sequence number
}

// newInitiator builds the SPNEGO NegTokenInit carrying an AP-REQ for tkt
// (kerberos.md §2.1, §2.3): mechTypes lists Kerberos only, so the host can
// never negotiate NTLM from it; the authenticator carries a fresh subkey,
// a random initial sequence number below 2^30 and the 0x8003 checksum with
// our flags and the channel bindings hash (nil: none, as over HTTP); the AP
// options require mutual authentication.
func newInitiator(realm string, cname types.PrincipalName, tkt messages.Ticket, sessionKey types.EncryptionKey, bindingsHash []byte) (*initiator, []byte, error) {
	et, err := aesEtype(sessionKey.KeyType)
	if err != nil {
		return nil, nil, fmt.Errorf("service ticket session key: %w", err)
	}
	auth, err := types.NewAuthenticator(realm, cname)
	if err != nil {
		return nil, nil, fmt.Errorf("authenticator: %w", err)
	}
	if err := auth.GenerateSeqNumberAndSubKey(sessionKey.KeyType, keySize(et)); err != nil {
		return nil, nil, fmt.Errorf("authenticator subkey: %w", err)
	}
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: gssChecksum(bindingsHash, requestedFlags)}
	apReq, err := messages.NewAPReq(tkt, sessionKey, auth)
	if err != nil {
		return nil, nil, fmt.Errorf("AP-REQ: %w", err)
	}
	types.SetFlag(&apReq.APOptions, flags.APOptionMutualRequired)
	raw, err := apReq.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("marshal AP-REQ: %w", err)
	}
	mech, err := krb5Token(tokAPReq, raw)
	if err != nil {
		return nil, nil, err
	}
	init := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes:      []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()},
		MechTokenBytes: mech,
	}}
	tok, err := init.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("marshal SPNEGO token: %w", err)
	}
	return &initiator{sessionKey: sessionKey, auth: auth}, tok, nil
}

// gssChecksum is the authenticator checksum of type 0x8003 (RFC 4121
// §4.1.1): Lgth 16, the MD5 of the channel bindings (package tlsbind;
// zeros without), the context flags, little-endian.
func gssChecksum(bindingsHash []byte, ctxFlags uint32) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], 16)
	copy(b[4:20], bindingsHash)
	binary.LittleEndian.PutUint32(b[20:], ctxFlags)
	return b
}

// krb5Token wraps a Kerberos message as a GSS-API initial-context token:
// [APPLICATION 0] { OID 1.2.840.113554.1.2.2, TOK_ID, message }.
func krb5Token(tokID, msg []byte) ([]byte, error) {
	oid, err := asn1.Marshal(gssapi.OIDKRB5.OID())
	if err != nil {
		return nil, fmt.Errorf("marshal krb5 OID: %w", err)
	}
	b := append(append(oid, tokID...), msg...)
	return asn1tools.AddASNAppTag(b, 0), nil
}

// parseKRB5Token splits a GSS krb5 token into its token ID and message. The
// Microsoft legacy OID (1.2.840.48018.1.2.2) is accepted too.
func parseKRB5Token(b []byte) (tokID, msg []byte, err error) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.UnmarshalWithParams(b, &oid, "application,explicit,tag:0")
	if err != nil {
		return nil, nil, fmt.Errorf("not a GSS krb5 token: %w", err)
	}
	if !oid.Equal(gssapi.OIDKRB5.OID()) && !oid.Equal(gssapi.OIDMSLegacyKRB5.OID()) {
		return nil, nil, fmt.Errorf("GSS token of mechanism %s, not Kerberos", oid)
	}
	if len(rest) < 2 {
		return nil, nil, errors.New("GSS krb5 token without a token ID")
	}
	return rest[:2], rest[2:], nil
}

// responseToken returns the mechanism token of the host's answer: the
// responseToken of an SPNEGO NegTokenResp (refusing a reject), or a raw
// krb5 token as the Kerberos scheme sends it.
func responseToken(b []byte) ([]byte, error) {
	if len(b) > 0 && b[0] == 0xa1 { // [1] NegTokenResp
		var t spnego.SPNEGOToken
		if err := t.Unmarshal(b); err != nil {
			return nil, fmt.Errorf("SPNEGO answer: %w", err)
		}
		if !t.Resp {
			return nil, errors.New("SPNEGO answer is not a NegTokenResp")
		}
		r := t.NegTokenResp
		switch {
		case len(r.ResponseToken) > 0:
			return r.ResponseToken, nil // with a reject, a KRB-ERROR says why
		case spnego.NegState(r.NegState) == spnego.NegStateReject:
			return nil, errors.New("host rejected the Kerberos mechanism (SPNEGO reject)")
		}
		return nil, errors.New("SPNEGO answer without a response token")
	}
	return b, nil
}

// established is what a verified AP-REP gives: the per-message session.
func (in *initiator) verifyAPRep(answer []byte) (*Session, error) {
	mech, err := responseToken(answer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMutual, err)
	}
	id, msg, err := parseKRB5Token(mech)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMutual, err)
	}
	switch {
	case string(id) == string(tokKRBError):
		var ke messages.KRBError
		if err := ke.Unmarshal(msg); err != nil {
			return nil, fmt.Errorf("%w: undecodable KRB-ERROR: %v", ErrMutual, err)
		}
		return nil, &HostError{Code: ke.ErrorCode, Text: ke.EText}
	case string(id) != string(tokAPRep):
		return nil, fmt.Errorf("%w: token ID %x, want an AP-REP", ErrMutual, id)
	}
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		return nil, fmt.Errorf("%w: AP-REP: %v", ErrMutual, err)
	}
	plain, err := crypto.DecryptEncPart(rep.EncPart, in.sessionKey, keyusage.AP_REP_ENCPART)
	if err != nil {
		return nil, fmt.Errorf("%w: AP-REP does not decrypt with the ticket's session key: %v", ErrMutual, err)
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return nil, fmt.Errorf("%w: EncAPRepPart: %v", ErrMutual, err)
	}
	// RFC 4120 §3.2.5: ctime and cusec must be those of our authenticator.
	if !part.CTime.Truncate(time.Second).Equal(in.auth.CTime.Truncate(time.Second)) || part.Cusec != in.auth.Cusec {
		return nil, fmt.Errorf("%w: AP-REP time %v.%06d does not match the authenticator's", ErrMutual, part.CTime, part.Cusec)
	}
	// RFC 4121 §2: the acceptor's subkey, if any, protects every message;
	// else our authenticator subkey.
	key, fromAcceptor := in.auth.SubKey, false
	if part.Subkey.KeyType != 0 || len(part.Subkey.KeyValue) > 0 {
		key, fromAcceptor = part.Subkey, true
	}
	s, err := NewSession(key, true, fromAcceptor, uint64(in.auth.SeqNumber), uint64(part.SequenceNumber))
	if err != nil {
		return nil, fmt.Errorf("host's subkey: %w", err)
	}
	return s, nil
}
