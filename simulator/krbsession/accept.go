package krbsession

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// ErrReject marks an AP-REQ the host refuses; the reply token, if any, is a
// KRB-ERROR for the client.
var ErrReject = errors.New("kerberos AP-REQ rejected")

// An Acceptor verifies AP-REQs for the service principals of one host.
type Acceptor struct {
	settings *service.Settings
	realm    string
	hosts    []string // host parts of the SPNs this host owns, lower case
}

// NewAcceptor returns an acceptor using kt's keys that accepts tickets only
// for service principals "<service>/<host>[:port]" whose host is one of
// hosts (case-insensitive): a ticket for another computer is refused
// (KRB_AP_ERR_NOT_US), even when the keytab, shared by a simulated fleet,
// holds that computer's key too, or for another realm than realm. Clock
// skew is Windows' default 5 minutes.
func NewAcceptor(kt *keytab.Keytab, realm string, hosts []string) *Acceptor {
	low := make([]string, len(hosts))
	for i, h := range hosts {
		low[i] = strings.ToLower(h)
	}
	return &Acceptor{
		settings: service.NewSettings(kt, service.MaxClockSkew(5*time.Minute), service.DecodePAC(false)),
		realm:    realm,
		hosts:    low,
	}
}

// An Accepted is the outcome of a verified AP-REQ.
type Accepted struct {
	Context *Context
	Reply   []byte // the token for WWW-Authenticate (AP-REP, in SPNEGO if the client used it)
	User    string // the client principal's name, without realm
	Realm   string
	// Bindings is the channel-binding hash of the authenticator checksum
	// (RFC 4121 §4.1.1.2), all zero when the client sent none.
	Bindings [16]byte
}

// Accept verifies an initial context token: a SPNEGO NegTokenInit whose
// mechanism token is a krb5 AP-REQ, or a raw krb5 token (the "Kerberos"
// HTTP scheme). On ErrReject the returned reply, if not nil, is a KRB-ERROR
// token to send with the 401.
func (a *Acceptor) Accept(token []byte) (*Accepted, []byte, error) {
	mech, mechOID, spnegoUsed, err := mechToken(token)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrReject, err)
	}
	var apReq messages.APReq
	if err := unwrapGSS(mech, 0x0100, &apReq); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrReject, err)
	}
	if !a.ownsTicket(apReq.Ticket.SName) || apReq.Ticket.Realm != a.realm {
		ke := messages.NewKRBError(apReq.Ticket.SName, apReq.Ticket.Realm, errorcode.KRB_AP_ERR_NOT_US, "the ticket is for another server")
		return nil, errorToken(ke, spnegoUsed, mechOID), fmt.Errorf("%w: ticket for %s", ErrReject, apReq.Ticket.SName.PrincipalNameString())
	}
	ok, creds, err := service.VerifyAPREQ(&apReq, a.settings)
	if err != nil || !ok {
		var ke messages.KRBError
		if errors.As(err, &ke) {
			return nil, errorToken(ke, spnegoUsed, mechOID), fmt.Errorf("%w: %v", ErrReject, err)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrReject, err)
	}
	auth := apReq.Authenticator
	sessionKey := apReq.Ticket.DecryptedEncPart.Key
	ctxFlags, err := checksumFlags(auth.Cksum)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrReject, err)
	}
	if ctxFlags&gssapi.ContextFlagConf == 0 {
		return nil, nil, fmt.Errorf("%w: client did not ask for confidentiality (flags %#x)", ErrReject, ctxFlags)
	}
	subkey, err := newKey(sessionKey.KeyType)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrReject, err)
	}
	seq, err := rand.Int(rand.Reader, big.NewInt(1<<30)) // below 2^30, as MIT and Windows pick them
	if err != nil {
		return nil, nil, err
	}
	c, err := newContext(subkey, uint64(seq.Int64()), uint64(uint32(auth.SeqNumber)))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrReject, err)
	}
	var reply []byte
	if types.IsFlagSet(&apReq.APOptions, flags.APOptionMutualRequired) || ctxFlags&gssapi.ContextFlagMutual != 0 {
		rep, err := apRep(sessionKey, auth, subkey, seq.Int64())
		if err != nil {
			return nil, nil, err
		}
		reply = gssToken(0x0200, rep)
		if spnegoUsed {
			reply = negTokenResp(mechOID, reply)
		}
	}
	out := &Accepted{Context: c, Reply: reply, User: creds.UserName(), Realm: creds.Domain()}
	copy(out.Bindings[:], auth.Cksum.Checksum[4:20])
	return out, nil, nil
}

func (a *Acceptor) ownsTicket(sname types.PrincipalName) bool {
	if len(sname.NameString) != 2 {
		return false
	}
	host := strings.ToLower(sname.NameString[1])
	if h, _, ok := strings.Cut(host, ":"); ok { // HTTP/host:5985 (kerberos.md §2.2)
		host = h
	}
	for _, h := range a.hosts {
		if h == host {
			return true
		}
	}
	return false
}

// mechToken finds the krb5 token inside an initial token and the mechanism
// OID the client named first (Windows answers with that OID).
func mechToken(b []byte) (mech []byte, oid asn1.ObjectIdentifier, spnegoUsed bool, err error) {
	var outer asn1.ObjectIdentifier
	if _, err := asn1.UnmarshalWithParams(b, &outer, "application,explicit,tag:0"); err != nil {
		return nil, nil, false, errors.New("not a GSS-API initial context token")
	}
	if outer.Equal(gssapi.OIDKRB5.OID()) || outer.Equal(gssapi.OIDMSLegacyKRB5.OID()) {
		return b, outer, false, nil
	}
	var sp spnego.SPNEGOToken
	if err := sp.Unmarshal(b); err != nil || !sp.Init {
		return nil, nil, false, fmt.Errorf("not a SPNEGO NegTokenInit: %v", err)
	}
	init := sp.NegTokenInit
	if len(init.MechTypes) == 0 || len(init.MechTokenBytes) == 0 {
		return nil, nil, false, errors.New("NegTokenInit without an optimistic mechanism token")
	}
	first := init.MechTypes[0]
	if !first.Equal(gssapi.OIDKRB5.OID()) && !first.Equal(gssapi.OIDMSLegacyKRB5.OID()) {
		return nil, nil, false, fmt.Errorf("first mechanism %s is not Kerberos", first)
	}
	return init.MechTokenBytes, first, true, nil
}

// unwrapGSS parses [APPLICATION 0]{krb5 OID, tokID, message} into an AP-REQ.
func unwrapGSS(b []byte, tokID uint16, into *messages.APReq) error {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.UnmarshalWithParams(b, &oid, "application,explicit,tag:0")
	if err != nil {
		return fmt.Errorf("krb5 token: %v", err)
	}
	if !oid.Equal(gssapi.OIDKRB5.OID()) && !oid.Equal(gssapi.OIDMSLegacyKRB5.OID()) {
		return fmt.Errorf("krb5 token names mechanism %s", oid)
	}
	if len(rest) < 2 || binary.BigEndian.Uint16(rest) != tokID {
		return fmt.Errorf("krb5 token is not an AP-REQ")
	}
	return into.Unmarshal(rest[2:])
}

func gssToken(tokID uint16, msg []byte) []byte {
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	b := binary.BigEndian.AppendUint16(oid, tokID)
	return asn1tools.AddASNAppTag(append(b, msg...), 0)
}

// negTokenResp is SPNEGO accept-completed carrying the AP-REP (RFC 4178
// §4.2.2). Windows adds no mechListMIC when Kerberos was the client's
// first choice.
func negTokenResp(mech asn1.ObjectIdentifier, resp []byte) []byte {
	t := spnego.SPNEGOToken{Resp: true, NegTokenResp: spnego.NegTokenResp{
		NegState: asn1.Enumerated(spnego.NegStateAcceptCompleted), SupportedMech: mech, ResponseToken: resp,
	}}
	b, _ := t.Marshal() // fixed shapes: cannot fail
	return b
}

func errorToken(ke messages.KRBError, spnegoUsed bool, mech asn1.ObjectIdentifier) []byte {
	b, err := ke.Marshal()
	if err != nil {
		return nil
	}
	tok := gssToken(0x0300, b)
	if spnegoUsed {
		t := spnego.SPNEGOToken{Resp: true, NegTokenResp: spnego.NegTokenResp{
			NegState: asn1.Enumerated(spnego.NegStateReject), SupportedMech: mech, ResponseToken: tok,
		}}
		if b, err := t.Marshal(); err == nil {
			return b
		}
	}
	return tok
}

// checksumFlags reads the context flags of the 0x8003 authenticator
// checksum (RFC 4121 §4.1.1).
func checksumFlags(c types.Checksum) (uint32, error) {
	if c.CksumType != 0x8003 || len(c.Checksum) < 24 || binary.LittleEndian.Uint32(c.Checksum) != 16 {
		return 0, fmt.Errorf("authenticator checksum type %#x (%d bytes) is not a GSS-API checksum", c.CksumType, len(c.Checksum))
	}
	return binary.LittleEndian.Uint32(c.Checksum[20:24]), nil
}

// encAPRepPart is EncAPRepPart (RFC 4120 §5.5.2), [APPLICATION 27].
type encAPRepPart struct {
	CTime  time.Time           `asn1:"generalized,explicit,tag:0"`
	Cusec  int                 `asn1:"explicit,tag:1"`
	Subkey types.EncryptionKey `asn1:"optional,explicit,tag:2"`
	Seq    int64               `asn1:"optional,explicit,tag:3"`
}

type apRepMsg struct {
	PVNO    int                 `asn1:"explicit,tag:0"`
	MsgType int                 `asn1:"explicit,tag:1"`
	EncPart types.EncryptedData `asn1:"explicit,tag:2"`
}

// apRep builds KRB_AP_REP: the client's ctime and cusec, our subkey and
// initial sequence number, encrypted with the ticket session key (key
// usage 12).
func apRep(sessionKey types.EncryptionKey, auth types.Authenticator, subkey types.EncryptionKey, seq int64) ([]byte, error) {
	inner, err := asn1.Marshal(encAPRepPart{CTime: auth.CTime, Cusec: auth.Cusec, Subkey: subkey, Seq: seq})
	if err != nil {
		return nil, fmt.Errorf("marshal EncAPRepPart: %w", err)
	}
	enc, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(inner, 27), sessionKey, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, fmt.Errorf("encrypt EncAPRepPart: %w", err)
	}
	outer, err := asn1.Marshal(apRepMsg{PVNO: 5, MsgType: 15, EncPart: enc})
	if err != nil {
		return nil, fmt.Errorf("marshal AP-REP: %w", err)
	}
	return asn1tools.AddASNAppTag(outer, 15), nil
}
