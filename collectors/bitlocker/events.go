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

// errorCodeRE accepts the ErrorCode forms events print: decimal (possibly
// negative) or 0x-hex.
var errorCodeRE = regexp.MustCompile(`^(-?[0-9]{1,20}|0[xX][0-9A-Fa-f]{1,16})$`)

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
			if !braceGUIDRE.MatchString(val) {
				return ev, false, protocolf("event %d: ProtectorGUID is not a {GUID}", ev.ID)
			}
			ev.ProtectorID = val
		case "VolumeMountPoint":
			if val != "" && !driveLetterRE.MatchString(val) && !deviceIDRE.MatchString(val) {
				return ev, false, protocolf("event %d: VolumeMountPoint is not a mount point", ev.ID)
			}
			ev.MountPoint = val
		case "ErrorCode":
			if !errorCodeRE.MatchString(val) {
				return ev, false, protocolf("event %d: ErrorCode is not a number", ev.ID)
			}
			ev.ErrorCode = val
		}
	}
	return ev, true, nil
}

// DecodeEvents decodes the events section: a JSON array (or single string)
// of ToXml() renderings; empty output means no events. An error record
// NoMatchingEventsFound is handled by the caller as "no events".
func DecodeEvents(data []byte) ([]model.BackupEvent, error) {
	if strings.TrimSpace(string(data)) == "" {
		return []model.BackupEvent{}, nil
	}
	xmls, err := oneOrManyStrings("events", data)
	if err != nil {
		return nil, err
	}
	out := make([]model.BackupEvent, 0, len(xmls))
	for i, s := range xmls {
		ev, ok, err := DecodeEventXML([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("events[%d]: %w", i, err)
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, nil
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
