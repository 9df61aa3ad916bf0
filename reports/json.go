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
// a time, so memory does not grow with the fleet beyond the result itself.
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
	var hb bytes.Buffer
	henc := json.NewEncoder(&hb)
	henc.SetEscapeHTML(false)
	henc.SetIndent("    ", "  ")
	for i, h := range r.Hosts {
		if h.Volumes == nil {
			h.Volumes = []model.Volume{}
		}
		if h.Findings == nil {
			h.Findings = []model.Finding{}
		}
		hb.Reset()
		if err := henc.Encode(&h); err != nil {
			return fmt.Errorf("encode result: host %s: %w", h.Target, err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(bytes.TrimSuffix(hb.Bytes(), []byte("\n")))
	}
	if len(r.Hosts) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]")
	bw.Write(tail)
	return bw.Flush() // bufio keeps the first write error and returns it here
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
