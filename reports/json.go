package reports

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/spool"
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
// ignored, so documents from later v1 writers still read. The hosts are
// kept in memory (Result.Hosts): a large document reads with
// [ReadResultSpooled].
func ReadResult(r io.Reader) (*model.Result, error) {
	var hosts hostSlice
	res, err := readResult(r, func(int) (hostSink, error) {
		hosts.hosts = []model.HostResult{} // an empty array reads as one, as encoding/json reads it
		return &hosts, nil
	})
	if err != nil {
		return nil, err
	}
	res.Hosts = hosts.hosts
	return res, nil
}

// ReadResultSpooled reads a result document as [ReadResult] does, each
// host decoded and put into a spool (in dir, the system's temporary
// directory when "") as it is read, so memory holds one host at a time:
// the result's Source is the spool, which the caller closes and must not
// change (the order and counts every report needs are taken as the hosts
// are read, so [WriteAll] does not read them all once more for it). A document
// whose hosts come before its summary (WriteJSON writes the summary first)
// still reads, its hosts held in memory until the count is known.
func ReadResultSpooled(r io.Reader, dir string) (*model.Result, *spool.Spool, error) {
	var sp *spool.Spool
	var b *viewBuilder
	open := func(n int) (hostSink, error) {
		var err error
		if sp, err = spool.New(dir, n); err != nil {
			return nil, err
		}
		b = newViewBuilder(sp, sp.Len())
		return &spoolSink{sp, b}, nil
	}
	res, err := readResult(r, open)
	if err != nil {
		if sp != nil {
			sp.Close()
		}
		return nil, nil, err
	}
	if sp == nil { // no hosts array at all
		if sp, err = spool.New(dir, 0); err != nil {
			return nil, nil, err
		}
		b = newViewBuilder(sp, sp.Len())
	}
	res.Source = &viewedSource{Spool: sp, v: b.view()}
	return res, sp, nil
}

// maxResultHosts bounds the hosts a document's summary may announce before
// they are read: a spool is sized by it, so a forged count cannot make the
// reader allocate without bound.
const maxResultHosts = 1_000_000

// A hostSink takes a document's hosts in order as they are decoded.
type hostSink interface {
	// put takes host i; raw, when known, is its JSON.
	put(i int, h *model.HostResult, raw []byte) error
}

type hostSlice struct{ hosts []model.HostResult }

func (s *hostSlice) put(_ int, h *model.HostResult, _ []byte) error {
	s.hosts = append(s.hosts, *h)
	return nil
}

// A spoolSink puts the hosts into a spool and builds their view.
type spoolSink struct {
	sp *spool.Spool
	b  *viewBuilder
}

func (s *spoolSink) put(i int, h *model.HostResult, raw []byte) error {
	if i >= s.sp.Len() {
		return fmt.Errorf("invalid result document: summary counts %d hosts, the document lists more", s.sp.Len())
	}
	s.b.add(i, h, raw)
	return s.sp.Put(i, h)
}

// readHosts reads the elements of the hosts array dec is in, checks each
// and gives it to sink, and returns how many it read. The decoding runs
// beside the reading (it is most of the work), in document order.
func readHosts(dec *json.Decoder, sink hostSink) (int, error) {
	raws := make(chan json.RawMessage, 64)
	failed := make(chan struct{}) // closed at the worker's first error
	var werr error                // the worker's error, read after done
	done := make(chan struct{})
	go func() {
		defer close(done)
		i := 0
		for raw := range raws {
			if werr != nil {
				continue
			}
			if werr = putHost(sink, i, raw); werr != nil {
				close(failed)
			}
			i++
		}
	}()
	n := 0
	var rerr error
read:
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			rerr = err
			break
		}
		select {
		case raws <- raw:
			n++
		case <-failed:
			break read
		}
	}
	close(raws)
	<-done
	if werr != nil {
		return n, werr
	}
	if rerr != nil {
		return n, readErr(rerr)
	}
	return n, nil
}

// putHost decodes host i of a document, checks it and gives it to sink.
func putHost(sink hostSink, i int, raw json.RawMessage) error {
	var h model.HostResult
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("decode %s document: hosts[%d]: %w", model.ResultSchema, i, err)
	}
	if h.Target == "" {
		return fmt.Errorf("invalid result document: hosts[%d] has no target", i)
	}
	if _, err := model.ParseStatus(string(h.Status)); err != nil {
		return fmt.Errorf("invalid result document: hosts[%d] (%s): %w", i, h.Target, err)
	}
	return sink.put(i, &h, raw)
}

// readErr is the error for a document that could not be read as JSON.
func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read result document: %w", err)
}

// readResult walks a result document token by token: every field but the
// hosts is kept as it is and decoded at the end, as ReadResult always did;
// each host is decoded, checked and given to the sink open returns, which
// is called once, when the hosts start, with the count the summary read so
// far announces (-1 when there is none yet: then the hosts are collected
// in memory and put into the sink at the end).
func readResult(r io.Reader, open func(n int) (hostSink, error)) (*model.Result, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	tok, err := dec.Token()
	if err != nil {
		return nil, readErr(err)
	}
	if tok != json.Delim('{') {
		return nil, errors.New("read result document: not a JSON object")
	}
	var rest bytes.Buffer // every field but the hosts, as a JSON object
	rest.WriteByte('{')
	var summary json.RawMessage
	var sink hostSink
	var early hostSlice // hosts before the summary
	count, announced, sawHosts := 0, -1, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, readErr(err)
		}
		key, _ := tok.(string)
		// encoding/json matches a field name case-insensitively.
		if !strings.EqualFold(key, "hosts") {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, readErr(err)
			}
			if rest.Len() > 1 {
				rest.WriteByte(',')
			}
			k, _ := json.Marshal(key)
			rest.Write(k)
			rest.WriteByte(':')
			rest.Write(raw)
			if strings.EqualFold(key, "summary") {
				summary = raw
			}
			continue
		}
		if sawHosts {
			return nil, errors.New("invalid result document: the hosts field appears twice")
		}
		sawHosts = true
		tok, err = dec.Token()
		if err != nil {
			return nil, readErr(err)
		}
		if tok == nil { // null: no hosts
			continue
		}
		if tok != json.Delim('[') {
			return nil, fmt.Errorf("decode %s document: hosts is not an array", model.ResultSchema)
		}
		sink = &early
		if summary != nil {
			var s struct{ Hosts int }
			if err := json.Unmarshal(summary, &s); err != nil {
				return nil, fmt.Errorf("decode %s document: summary: %w", model.ResultSchema, err)
			}
			if s.Hosts < 0 || s.Hosts > maxResultHosts {
				return nil, fmt.Errorf("invalid result document: summary counts %d hosts (this version reads up to %s)", s.Hosts, num(maxResultHosts))
			}
			if sink, err = open(s.Hosts); err != nil {
				return nil, err
			}
			announced = s.Hosts
		}
		n, err := readHosts(dec, sink)
		count += n
		if err != nil {
			return nil, err
		}
		if _, err := dec.Token(); err != nil { // ]
			return nil, readErr(err)
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, readErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("read result document: trailing data after the JSON value")
	}
	rest.WriteByte('}')
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(rest.Bytes(), &head); err != nil {
		return nil, fmt.Errorf("read result document: %w", err)
	}
	switch {
	case head.Schema == nil:
		return nil, fmt.Errorf("not a bitaudit result document: no \"schema\" field (want %q)", model.ResultSchema)
	case *head.Schema != model.ResultSchema:
		return nil, fmt.Errorf("unsupported result schema %q (this version reads %q)", *head.Schema, model.ResultSchema)
	}
	var res model.Result
	if err := json.Unmarshal(rest.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("decode %s document: %w", model.ResultSchema, err)
	}
	if res.Run.ID == "" {
		return nil, errors.New("invalid result document: run.id is empty")
	}
	if res.Summary.Hosts != count {
		return nil, fmt.Errorf("invalid result document: summary counts %d hosts, the document lists %d", res.Summary.Hosts, count)
	}
	if announced >= 0 && announced != count {
		return nil, fmt.Errorf("invalid result document: summary counts %d hosts, the document lists %d", announced, count)
	}
	if sink == &early {
		// The hosts came before the summary.
		if sink, err = open(count); err != nil {
			return nil, err
		}
		for i := range early.hosts {
			if err := sink.put(i, &early.hosts[i], nil); err != nil {
				return nil, err
			}
		}
	}
	return &res, nil
}
