#!/usr/bin/python3
"""Golden Wrap tokens made by MIT Kerberos (python3-gssapi), for krbseal's tests.

Run by mit_test.go against a throw-away MIT KDC (internal/mitkdc). Usage:
  KRB5_CONFIG=... KRB5CCNAME=FILE:... KRB5_KTNAME=FILE:... mit_vectors.py HOST...
For each HOST (service principal HTTP/HOST in the keytab; its only key type decides the
session key's), an MIT initiator and an MIT acceptor establish a context with
mutual|replay|sequence|conf|integ, as pywinrm asks, then seal messages each way with
gss_wrap_iov(HEADER, DATA, PADDING), the WinRM layout (kerberos.md section 2.5). The context's
key comes from GSS_C_INQ_SSPI_SESSION_KEY (1.2.840.113554.1.2.2.5.5). Prints JSON.
"""
import json
import sys

import gssapi
import gssapi.raw as raw
from gssapi.raw import IOV, IOVBufferType

SESSION_KEY = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2.5.5")
FLAGS = [gssapi.RequirementFlag.mutual_authentication, gssapi.RequirementFlag.replay_detection,
         gssapi.RequirementFlag.out_of_sequence_detection, gssapi.RequirementFlag.confidentiality,
         gssapi.RequirementFlag.integrity]
MESSAGES = [b"<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"/>", b"", b"x" * 1000]


def wrap(ctx, msg):
    # (type, allocate, value): python-gssapi 1.8 reads a 2-tuple as (type, allocate) and would
    # drop the data (kerberos.md section 2.5, pitfall 8).
    iov = IOV(IOVBufferType.header, (IOVBufferType.data, False, msg), IOVBufferType.padding, std_layout=False)
    raw.wrap_iov(ctx, iov, confidential=True)
    pad = iov[2].value or b""
    return iov[0].value, iov[1].value + pad


def unwrap(ctx, sig, data):
    iov = IOV((IOVBufferType.header, False, sig), (IOVBufferType.data, False, data), std_layout=False)
    raw.unwrap_iov(ctx, iov)
    return iov[1].value


def der_oid_last(b):
    # Last arc of a DER OID body: 1.2.840.113554.1.2.2.4.<etype>.
    arcs, cur = [], 0
    for c in b:
        cur = (cur << 7) | (c & 0x7F)
        if not c & 0x80:
            arcs.append(cur)
            cur = 0
    return arcs[-1]


def vectors(host):
    name = gssapi.Name("HTTP@" + host, gssapi.NameType.hostbased_service)
    init = gssapi.SecurityContext(name=name, usage="initiate", flags=FLAGS)
    acc = gssapi.SecurityContext(usage="accept", creds=gssapi.Credentials(usage="accept"))
    tok = init.step()
    rep = acc.step(tok)
    init.step(rep)
    assert init.complete and acc.complete
    key, etype_oid = raw.inquire_sec_context_by_oid(init, SESSION_KEY)
    akey, _ = raw.inquire_sec_context_by_oid(acc, SESSION_KEY)
    assert key == akey
    out = {"host": host, "etype": der_oid_last(etype_oid), "key": key.hex(), "tokens": []}
    for sender, ctx, peer in (("initiator", init, acc), ("acceptor", acc, init), ("initiator", init, acc)):
        for m in MESSAGES:
            sig, data = wrap(ctx, m)
            assert unwrap(peer, sig, data) == m
            out["tokens"].append({"sender": sender, "plain": m.hex(), "signature": sig.hex(), "data": data.hex()})
    return out


print(json.dumps([vectors(h) for h in sys.argv[1:]], indent=1))
