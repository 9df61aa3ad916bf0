package bitlocker

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// backupEventIDs are the BitLocker Management events about recovery
// information backups (bitlocker.md §3) that the collection keeps.
var backupEventIDs = map[int]bool{783: true, 784: true, 785: true, 845: true, 846: true}

var (
	// errorCodeRE accepts the ErrorCode forms events print: decimal
	// (possibly negative) or 0x-hex.
	errorCodeRE = regexp.MustCompile(`^(-?[0-9]{1,20}|0[xX][0-9A-Fa-f]{1,16})$`)
	// volumePathRE is a volume GUID path with or without its trailing
	// backslash: events print both (the 768 sample's VolumeName has none).
	volumePathRE = regexp.MustCompile(`^\\\\\?\\Volume\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}\\?$`)
	// folderMountRE is a drive root or a folder mount point (C:\mnt\data\):
	// path components without the characters Windows forbids in names.
	folderMountRE = regexp.MustCompile(`^[A-Za-z]:\\(?:[^\\/:*?"<>|\x00-\x1f]{1,255}\\?)*$`)
)

// maxEvents bounds the events decoded from one host; the script asks for 500.
const maxEvents = 2000

// eventXML is the part of EventRecord.ToXml() the auditor reads: an Event
// element in the http://schemas.microsoft.com/win/2004/08/events/event
// namespace, System/EventID, System/TimeCreated@SystemTime (ISO 8601 UTC,
// 7 fractional digits) and named EventData/Data elements (bitlocker.md §3;
// Microsoft's WinLog WefXmlElementNames and EventLogExpert use the same
// namespace and layout).
type eventXML struct {
	XMLName xml.Name `xml:"Event"`
	System  struct {
		EventID     string `xml:"EventID"`
		TimeCreated struct {
			SystemTime string `xml:"SystemTime,attr"`
		} `xml:"TimeCreated"`
	} `xml:"System"`
	Data []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:",chardata"`
	} `xml:"EventData>Data"`
}

// DecodeEventXML decodes one event as EventRecord.ToXml() prints it. ok is
// false for events that are not backup events (they are skipped, not
// errors).
func DecodeEventXML(data []byte) (ev model.BackupEvent, ok bool, err error) {
	if len(data) > 64<<10 {
		return ev, false, protocolf("event: too large")
	}
	var x eventXML
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	dec.Strict = true
	if err := dec.Decode(&x); err != nil {
		return ev, false, protocolf("event: not event XML")
	}
	if x.XMLName.Space != "" && x.XMLName.Space != "http://schemas.microsoft.com/win/2004/08/events/event" {
		return ev, false, protocolf("event: unexpected namespace")
	}
	id := strings.TrimSpace(x.System.EventID)
	if len(id) == 0 || len(id) > 5 || strings.Trim(id, "0123456789") != "" {
		return ev, false, protocolf("event: EventID is not a number")
	}
	fmt.Sscan(id, &ev.ID)
	if !backupEventIDs[ev.ID] {
		return ev, false, nil
	}
	ev.Time, err = time.Parse(time.RFC3339Nano, x.System.TimeCreated.SystemTime)
	if err != nil {
		return ev, false, protocolf("event %d: TimeCreated is not a timestamp", ev.ID)
	}
	ev.Time = ev.Time.UTC()
	for _, d := range x.Data {
		val := strings.TrimSpace(d.Value)
		switch d.Name {
		case "ProtectorGUID":
			// Braced or bare (events print both, e.g. the 768 sample's
			// IdentificationGUID); kept braced.
			switch {
			case val == "":
			case braceGUIDRE.MatchString(val):
				ev.ProtectorID = val
			case guidRE.MatchString(val):
				ev.ProtectorID = "{" + val + "}"
			default:
				return ev, false, protocolf("event %d: ProtectorGUID is not a GUID", ev.ID)
			}
		case "VolumeMountPoint":
			if val != "" && len(val) <= 260 && !driveLetterRE.MatchString(val) && !volumePathRE.MatchString(val) && !folderMountRE.MatchString(val) {
				return ev, false, protocolf("event %d: VolumeMountPoint is not a mount point", ev.ID)
			}
			ev.MountPoint = val
		case "ErrorCode":
			if val != "" && !errorCodeRE.MatchString(val) {
				return ev, false, protocolf("event %d: ErrorCode is not a number", ev.ID)
			}
			ev.ErrorCode = val
		}
	}
	return ev, true, nil
}

// DecodeEvents decodes the events section: the XML of each event as
// `wevtutil qe … /f:xml` prints it, one after another (format version 2),
// or a JSON array (or single string) of EventRecord.ToXml() renderings
// (version 1); empty output means no events. An event that does not
// decode is skipped and counted, never fatal: one odd record among
// hundreds must not lose the host. Only a version-1 section that is not
// JSON at all is an error.
func DecodeEvents(data []byte) (events []model.BackupEvent, skipped int, err error) {
	text := strings.TrimSpace(string(data))
	events = []model.BackupEvent{}
	if text == "" {
		return events, 0, nil
	}
	var xmls []string
	if text[0] == '[' || text[0] == '"' {
		if xmls, err = oneOrManyStrings("events", []byte(text)); err != nil {
			return nil, 0, err
		}
	} else {
		xmls = splitEvents(text)
	}
	for _, x := range xmls {
		if len(events) >= maxEvents {
			skipped++
			continue
		}
		ev, ok, err := DecodeEventXML([]byte(x))
		switch {
		case err != nil:
			skipped++
		case ok:
			events = append(events, ev)
		}
	}
	return events, skipped, nil
}

// splitEvents cuts a stream of <Event …>…</Event> documents at each
// "<Event" start tag; a literal '<' cannot occur inside event data, which
// XML escapes. Text before the first event is returned as an entry of its
// own, so that it counts as one undecodable event.
func splitEvents(s string) []string {
	var out []string
	for len(s) > 0 {
		next := nextEventStart(s, 1)
		if next < 0 {
			out = append(out, s)
			break
		}
		if chunk := strings.TrimSpace(s[:next]); chunk != "" {
			out = append(out, chunk)
		}
		s = s[next:]
	}
	return out
}

// nextEventStart is the index of the first "<Event" start tag at or after from.
func nextEventStart(s string, from int) int {
	for i := from; i < len(s); {
		j := strings.Index(s[i:], "<Event")
		if j < 0 {
			return -1
		}
		k := i + j + len("<Event")
		if k < len(s) && (s[k] == ' ' || s[k] == '>' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n') {
			return i + j
		}
		i = k
	}
	return -1
}

// oneOrManyStrings decodes a JSON string or array of strings.
func oneOrManyStrings(what string, data []byte) ([]string, error) {
	data = []byte(strings.TrimSpace(string(data)))
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := unmarshal(data, &s); err != nil {
			return nil, protocolf("%s: %v", what, err)
		}
		return []string{s}, nil
	}
	if len(data) == 0 || data[0] != '[' {
		return nil, protocolf("%s: not a JSON array", what)
	}
	var out []string
	if err := unmarshal(data, &out); err != nil {
		return nil, protocolf("%s: %v", what, err)
	}
	return out, nil
}
