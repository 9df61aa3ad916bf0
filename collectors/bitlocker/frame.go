package bitlocker

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// A Section is one section of collection output, for collectors that do not
// run collect.ps1 but gather the same data another way (the local WMI
// collector). Body is what the script would print for the section; when Err
// is set the section failed on the host and Body is ignored.
type Section struct {
	Name string
	Body []byte
	Err  *SectionError
}

// Frame prints sections in the framing collect.ps1 uses, so that
// [DecodeCollection] decodes them with exactly the checks it applies to a
// remote host's output: one decoder, one set of rules for what counts as
// valid. Sections should be given in the script's order; a failed section
// prints its error record.
func Frame(secs ...Section) []byte {
	var b bytes.Buffer
	b.WriteString(beginMarker + strconv.Itoa(frameVersion(secs)) + "\n")
	for _, s := range secs {
		b.WriteString(sectionMarker + s.Name + "\n")
		if s.Err != nil {
			id := strings.Join(strings.Fields(s.Err.ID), "_")
			if id == "" {
				id = "Error"
			}
			b.WriteString(errorMarker + id + " " + Clean(s.Err.Message, 300) + "\n")
			continue
		}
		body := bytes.TrimRight(s.Body, "\r\n")
		if len(body) > 0 {
			// A body line that looks like a marker would change the framing;
			// the decoder rejects it as garbled, as it would from a host.
			b.Write(body)
			b.WriteByte('\n')
		}
	}
	b.WriteString(endMarker + strconv.Itoa(len(secs)) + "\n")
	return b.Bytes()
}

// frameVersion is the format version whose sections are exactly secs' (so
// a producer of version 1's six sections still frames version 1), else
// FormatVersion.
func frameVersion(secs []Section) int {
	for v, names := range sectionsByVersion {
		if len(names) == len(secs) && slices.EqualFunc(names, secs, func(n string, s Section) bool { return n == s.Name }) {
			return v
		}
	}
	return FormatVersion
}
