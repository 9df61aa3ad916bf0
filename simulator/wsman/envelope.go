package wsman

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// Responses are written as Windows writes them (docs/winrm.md §6.7): the
// s/a/x/w/rsp/p prefixes, xml:lang="en-US" on the envelope, a fresh
// uppercase MessageID, To = anonymous and RelatesTo = the request's
// MessageID.

const envelopeOpen = `<s:Envelope xml:lang="en-US" xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddressing +
	`" xmlns:x="` + nsTransfer + `" xmlns:w="` + nsWSMan + `" xmlns:rsp="` + nsShell +
	`" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">`

// faultEnvelopeOpen declares the namespaces of Windows' fault envelopes.
const faultEnvelopeOpen = `<s:Envelope xml:lang="en-US" xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddressing +
	`" xmlns:x="` + nsTransfer + `" xmlns:e="http://schemas.xmlsoap.org/ws/2004/08/eventing"` +
	` xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:w="` + nsWSMan +
	`" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">`

const (
	actionFault     = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
	addressAnonymus = nsAddressing + "/role/anonymous"
	contentTypeSOAP = "application/soap+xml;charset=UTF-8"
	serverHeader    = "Microsoft-HTTPAPI/2.0"
)

// envelope renders a complete response envelope around body.
func envelope(open, action, relatesTo string, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(body) + 1024)
	b.WriteString(open)
	b.WriteString("<s:Header><a:Action>")
	b.WriteString(action)
	b.WriteString("</a:Action><a:MessageID>uuid:")
	b.WriteString(newGUID())
	b.WriteString("</a:MessageID><a:To>" + addressAnonymus + "</a:To>")
	if relatesTo != "" {
		b.WriteString("<a:RelatesTo>")
		escape(&b, relatesTo)
		b.WriteString("</a:RelatesTo>")
	}
	b.WriteString("</s:Header><s:Body>")
	b.Write(body)
	b.WriteString("</s:Body></s:Envelope>")
	return b.Bytes()
}

func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s)) // writes to a bytes.Buffer cannot fail
}

// newGUID returns a random version-4 GUID in Windows' uppercase form.
func newGUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// A fault is a WS-Management SOAP 1.2 fault as Windows sends it (HTTP 500).
type fault struct {
	Code    string // s:Sender or s:Receiver
	Subcode string // e.g. w:TimedOut
	WSMan   uint32 // f:WSManFault Code
	Message string // Windows' text, trailing spaces included
}

// Fault codes and texts (docs/winrm.md §1.5, §4.2; the remaining texts are
// the MessageText entries of the Windows SDK's wsmerror.h).
func faultTimedOut() fault {
	return fault{"s:Receiver", "w:TimedOut", 2150858793,
		"The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "}
}

func faultShellNotFound(id string) fault {
	return fault{"s:Sender", "w:InvalidSelectors", 2150858843,
		"The request for the Windows Remote Shell with ShellId " + id + " failed because the shell was not found on the server. " +
			"Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. " +
			"Provide the correct ShellId or create a new shell and retry the operation. "}
}

// faultMissingShellID is ERROR_WSMAN_INSUFFCIENT_SELECTORS with the winrs
// text quoted in openwsman#83.
func faultMissingShellID() fault {
	return fault{"s:Sender", "w:InvalidSelectors", 2150858842,
		"The Windows Remote Shell cannot process the request because it requires the following selector: ShellId. Retry with the correct selector. "}
}

func faultMaxShells(n int) fault {
	return fault{"s:Receiver", "w:InternalError", 2150859173,
		"The WS-Management service cannot process the request. This user is allowed a maximum number of " + strconv.Itoa(n) +
			" concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. "}
}

func faultMaxOperations(n int) fault {
	return fault{"s:Receiver", "w:InternalError", 2150859174,
		"The WS-Management service cannot process the request. This user is allowed a maximum number of " + strconv.Itoa(n) +
			" concurrent operations, which has been exceeded. Close existing operations for this user, or raise the quota for this user. "}
}

// faultActionNotSupported is ERROR_WSMAN_ACTION_NOT_SUPPORTED, which
// wsmerror.h annotates "wsa, code=Sender, subcode=WS-Addressing
// ActionNotsupported".
func faultActionNotSupported() fault {
	return fault{"s:Sender", "a:ActionNotSupported", 2150858771,
		"The WS-Management service does not support the action specified in the request. "}
}

// faultDestinationUnreachable is ERROR_WSMAN_DESTINATION_UNREACHABLE
// ("wsa, code=Sender, subcode=WS-Addressing DestinationUnreachable"): the
// answer for a resource URI this host does not serve, such as PSRP's.
func faultDestinationUnreachable() fault {
	return fault{"s:Sender", "a:DestinationUnreachable", 2150858770,
		"The client cannot connect to the destination specified in the request. " +
			"Verify that the service on the destination is running and is accepting requests. " +
			"Consult the logs and documentation for the WS-Management service running on the destination, most commonly IIS or WinRM. " +
			"If the destination is the WinRM service, run the following command on the destination to analyze and configure the WinRM service: \"winrm quickconfig\". "}
}

// faultInvalidXML is ERROR_WSMAN_INVALID_XML.
func faultInvalidXML() fault {
	return fault{"s:Sender", "w:SchemaValidationError", 2150858819,
		"The WS-Management service cannot process the request because the XML is invalid. "}
}

// faultEnvelopeTooLarge is ERROR_WSMAN_MAX_ENVELOPE_SIZE.
func faultEnvelopeTooLarge() fault {
	return fault{"s:Sender", "w:EncodingLimit", 2150858823,
		"The maximum envelope size in the request is too large. Change the maximum envelope size and try the request again. "}
}

// faultCodePage is ERROR_WINRS_CODE_PAGE_NOT_SUPPORTED.
func faultCodePage() fault {
	return fault{"s:Receiver", "w:InternalError", 2150859072,
		"The WinRS client cannot process the request. The server cannot set Code Page. " +
			"You may want to use the CHCP command to change the client Code Page to 437 and receive the results in English. "}
}

// faultCommandNotFound answers a Receive, Send or Signal naming a CommandId
// the shell does not know. Not confirmed against Windows: it reuses
// ERROR_WSMAN_INVALID_SELECTORS with a command-specific text.
func faultCommandNotFound(id string) fault {
	return fault{"s:Sender", "w:InvalidSelectors", 2150858843,
		"The request for the Windows Remote Shell command with CommandId " + id + " failed because the command was not found in the shell. "}
}

// render returns the fault envelope for the given request MessageID.
func (f fault) render(machine, relatesTo string) []byte {
	var b bytes.Buffer
	b.WriteString("<s:Fault><s:Code><s:Value>" + f.Code + "</s:Value><s:Subcode><s:Value>" + f.Subcode +
		"</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en-US\">")
	escape(&b, f.Message)
	b.WriteString(`</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="` + nsFault + `" Code="`)
	b.WriteString(strconv.FormatUint(uint64(f.WSMan), 10))
	b.WriteString(`" Machine="`)
	escape(&b, machine)
	b.WriteString(`"><f:Message>`)
	escape(&b, f.Message)
	b.WriteString("</f:Message></f:WSManFault></s:Detail></s:Fault>")
	return envelope(faultEnvelopeOpen, actionFault, relatesTo, b.Bytes())
}

// A reply is one SOAP answer: status and envelope.
type reply struct {
	status int
	body   []byte
	cmd    *command // set on Receive replies, for fault injection
}

func okReply(action, relatesTo string, body []byte) reply {
	return reply{status: http.StatusOK, body: envelope(envelopeOpen, action, relatesTo, body)}
}
