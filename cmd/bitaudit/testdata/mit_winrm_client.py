#!/usr/bin/python3
"""A WinRM client built on MIT Kerberos (python3-gssapi), the way pywinrm with pykerberos does it,
to check a simulated host against a Kerberos implementation nobody here wrote.

Usage: KRB5_CONFIG=... KRB5CCNAME=FILE:... mit_winrm_client.py ADDRESS FQDN
Authenticates with SPNEGO on an empty POST (pywinrm's setup_encryption), completes the context
with the host's AP-REP (mutual authentication), then sends a WS-Management Create sealed with
gss_wrap_iov(HEADER, DATA, PADDING) in the MS-WSMV framing and unseals the reply with
gss_unwrap_iov. Prints the ShellId the host created; exits non-zero on any failure.
"""
import base64
import http.client
import re
import struct
import sys
import uuid

import gssapi
import gssapi.raw as raw
from gssapi.raw import IOV, IOVBufferType

address, fqdn = sys.argv[1], sys.argv[2]
host, port = address.rsplit(":", 1)
SPNEGO = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")
flags = [gssapi.RequirementFlag.mutual_authentication, gssapi.RequirementFlag.out_of_sequence_detection,
         gssapi.RequirementFlag.confidentiality, gssapi.RequirementFlag.integrity]
ctx = gssapi.SecurityContext(name=gssapi.Name("HTTP@" + fqdn, gssapi.NameType.hostbased_service),
                             usage="initiate", flags=flags, mech=SPNEGO)
conn = http.client.HTTPConnection(host, int(port), timeout=20)

tok = ctx.step()
conn.request("POST", "/wsman", body=b"", headers={"Authorization": "Negotiate " + base64.b64encode(tok).decode(),
                                                   "Content-Length": "0"})
r = conn.getresponse()
r.read()
if r.status != 200:
    sys.exit("authentication: HTTP %d" % r.status)
answer = r.getheader("WWW-Authenticate", "")
if not answer.startswith("Negotiate "):
    sys.exit("no AP-REP in %r" % answer)
ctx.step(base64.b64decode(answer[len("Negotiate "):]))
if not ctx.complete:
    sys.exit("context not complete after the AP-REP")

create = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
          'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
          'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
          'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
          '<s:Header><a:To>http://windows-host:5985/wsman</a:To>'
          '<a:ReplyTo><a:Address mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>'
          '<w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize>'
          '<a:MessageID>uuid:%s</a:MessageID><w:OperationTimeout>PT20S</w:OperationTimeout>'
          '<w:ResourceURI mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>'
          '<a:Action mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action>'
          '<w:OptionSet><w:Option Name="WINRS_NOPROFILE">FALSE</w:Option><w:Option Name="WINRS_CODEPAGE">65001</w:Option></w:OptionSet>'
          '</s:Header><s:Body><rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>'
          '<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell></s:Body></s:Envelope>') % uuid.uuid4()
msg = create.encode()
iov = IOV(IOVBufferType.header, (IOVBufferType.data, False, msg), IOVBufferType.padding, std_layout=False)
raw.wrap_iov(ctx, iov, confidential=True)
sig, data = iov[0].value, iov[1].value + (iov[2].value or b"")
proto = "application/HTTP-SPNEGO-session-encrypted"
body = (b"--Encrypted Boundary\r\n\tContent-Type: " + proto.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n" % len(msg) +
        b"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n" +
        struct.pack("<I", len(sig)) + sig + data + b"--Encrypted Boundary--\r\n")
conn.request("POST", "/wsman", body=body, headers={
    "Content-Type": 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"' % proto})
r = conn.getresponse()
reply = r.read()
if "multipart/encrypted" not in r.getheader("Content-Type", ""):
    sys.exit("reply HTTP %d not encrypted: %r" % (r.status, reply[:200]))
m = re.search(rb"Length=(\d+)\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n", reply)
length = int(m.group(1))
rest = reply[m.end():]
siglen = struct.unpack("<I", rest[:4])[0]
rsig, rdata = rest[4:4 + siglen], rest[4 + siglen:4 + siglen + length]
iov = IOV((IOVBufferType.header, False, rsig), (IOVBufferType.data, False, rdata), std_layout=False)
raw.unwrap_iov(ctx, iov)
soap = iov[1].value.decode()
shell = re.search(r'Name="ShellId">([^<]+)<', soap)
if r.status != 200 or not shell:
    sys.exit("reply HTTP %d without a ShellId: %s" % (r.status, soap[:300]))
print(shell.group(1))
