package reports

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/bitaudit/bitaudit/model"
)

// WriteJSON writes the result document: indented, map keys sorted by
// encoding/json, hosts in the order of the result, and arrays that the
// schema defines as arrays never null. An empty schema field is written as
// [model.ResultSchema]; another schema is an error. Hosts are encoded one at
// a time from [model.Result.HostSource], so memory does not grow with the
// fleet.
func WriteJSON(w io.Writer, r *model.Result) error {
	if r == nil {
		return errNilResult
	}
	if r.Schema != "" && r.Schema != model.ResultSchema {
		return fmt.Errorf("result has schema %q, this version writes %q", r.Schema, model.ResultSchema)
	}
	doc := *r
	doc.Schema = model.ResultSchema
	doc.Hosts = []model.HostResult{}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	// The document with no hosts has exactly one top-level `"hosts": []`
	// (nested keys are indented deeper); the hosts are streamed into it with
	// the indentation encoding/json would have used.
	head, tail, ok := bytes.Cut(buf.Bytes(), []byte("\n  \"hosts\": []"))
	if !ok {
		return errors.New("encode result: hosts field not found")
	}
	bw := bufio.NewWriter(w)
	bw.Write(head)
	bw.WriteString("\n  \"hosts\": [")
	src := r.HostSource()
	raw, _ := src.(rawSource)
	var hb bytes.Buffer
	henc := json.NewEncoder(&hb)
	henc.SetEscapeHTML(false)
	henc.SetIndent("    ", "  ")
	for i := range src.Len() {
		hb.Reset()
		if err := encodeHost(&hb, henc, src, raw, i); err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(bytes.TrimSuffix(hb.Bytes(), []byte("\n")))
	}
	if src.Len() > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]")
	bw.Write(tail)
	return bw.Flush() // bufio keeps the first write error and returns it here
}

// A rawSource is a HostSource that also gives a host's record as the JSON
// json.Marshal wrote for it (a spool).
type rawSource interface {
	Raw(i int) ([]byte, error)
}

// Where json.Marshal's bytes differ from what WriteJSON writes for a host:
// it escapes <, > and & (WriteJSON does not), and writes an empty list of
// volumes or findings as null (WriteJSON writes []).
var rawDiffers = [][]byte{[]byte(`\u003c`), []byte(`\u003e`), []byte(`\u0026`), []byte(`"volumes":null`), []byte(`"findings":null`)}

// encodeHost writes host i into hb as henc does: from its raw record,
// re-indented, when that gives the same bytes, else decoded and encoded.
func encodeHost(hb *bytes.Buffer, henc *json.Encoder, src model.HostSource, raw rawSource, i int) error {
	if raw != nil {
		b, err := raw.Raw(i)
		if err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
		same := true
		for _, d := range rawDiffers {
			if bytes.Contains(b, d) {
				same = false
				break
			}
		}
		if same {
			// What Encoder.Encode does after marshalling (json.Indent is
			// its indenting), newline included.
			if err := json.Indent(hb, b, "    ", "  "); err != nil {
				return fmt.Errorf("host %d: %w", i, err)
			}
			hb.WriteByte('\n')
			return nil
		}
	}
	h, err := src.Host(i)
	if err != nil {
		return fmt.Errorf("host %d: %w", i, err)
	}
	if h.Volumes == nil {
		h.Volumes = []model.Volume{}
	}
	if h.Findings == nil {
		h.Findings = []model.Finding{}
	}
	if err := henc.Encode(&h); err != nil {
		return fmt.Errorf("host %s: %w", h.Target, err)
	}
	return nil
}

// ReadResult decodes a result document and checks that it is one this
// version understands: the schema is [model.ResultSchema], there is exactly
// one JSON value, the run has an ID, every host has a target and a known
// status, and the summary counts the hosts present. Unknown fields are
// ignored, so documents from later v1 writers still read.
func ReadResult(r io.Reader) (*model.Result, error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	var head struct {
		Schema *string `json:"schema"`
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("read result document: %w", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return nil, errors.New("read result document: trailing data after the JSON value")
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("read result document: %w", err)
	}
	switch {
	case head.Schema == nil:
		return nil, fmt.Errorf("not a bitaudit result document: no \"schema\" field (want %q)", model.ResultSchema)
	case *head.Schema != model.ResultSchema:
		return nil, fmt.Errorf("unsupported result schema %q (this version reads %q)", *head.Schema, model.ResultSchema)
	}
	var res model.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("decode %s document: %w", model.ResultSchema, err)
	}
	if res.Run.ID == "" {
		return nil, errors.New("invalid result document: run.id is empty")
	}
	for i, h := range res.Hosts {
		if h.Target == "" {
			return nil, fmt.Errorf("invalid result document: hosts[%d] has no target", i)
		}
		if _, err := model.ParseStatus(string(h.Status)); err != nil {
			return nil, fmt.Errorf("invalid result document: hosts[%d] (%s): %w", i, h.Target, err)
		}
	}
	if res.Summary.Hosts != len(res.Hosts) {
		return nil, fmt.Errorf("invalid result document: summary counts %d hosts, the document lists %d", res.Summary.Hosts, len(res.Hosts))
	}
	return &res, nil
}
