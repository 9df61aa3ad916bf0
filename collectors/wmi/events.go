package wmi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
)

// maxEvents bounds how many records SplitEvents accepts, as collect.ps1's
// -MaxEvents 500 does.
const maxEvents = 500

// SplitEvents splits what `wevtutil qe … /f:xml` prints (Event elements one
// after another, without a root element) into one XML document per event.
// Malformed XML is an error; deciding what an event means is left to
// collectors/bitlocker.
func SplitEvents(out []byte) ([]string, error) {
	out = bytes.TrimPrefix(out, []byte("\xef\xbb\xbf"))
	dec := xml.NewDecoder(bytes.NewReader(out))
	var events []string
	depth := 0
	start := int64(0)
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if depth != 0 {
				return nil, errors.New("wevtutil output: truncated event XML")
			}
			return events, nil
		}
		if err != nil {
			return nil, errors.New("wevtutil output: not event XML")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if t.Name.Local != "Event" {
					return nil, errors.New("wevtutil output: element other than Event at top level")
				}
				start = off
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 0 {
				if len(events) == maxEvents {
					return nil, errors.New("wevtutil output: more events than asked for")
				}
				events = append(events, string(bytes.TrimSpace(out[start:dec.InputOffset()])))
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("wevtutil output: text outside an event")
			}
		}
	}
}
