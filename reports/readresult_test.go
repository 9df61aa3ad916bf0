package reports

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bitaudit/bitaudit/model"
)

// readBoth reads doc with ReadResult and ReadResultSpooled, fails the test
// when one accepts what the other rejects or they read different results,
// and returns ReadResult's answer.
func readBoth(t *testing.T, doc string) (*model.Result, error) {
	t.Helper()
	mem, merr := ReadResult(strings.NewReader(doc))
	sp, s, serr := ReadResultSpooled(strings.NewReader(doc), t.TempDir())
	if (merr == nil) != (serr == nil) {
		t.Fatalf("ReadResult: %v; ReadResultSpooled: %v", merr, serr)
	}
	if merr != nil {
		return nil, merr
	}
	defer s.Close()
	if vs, ok := sp.Source.(*viewedSource); sp.Hosts != nil || !ok || vs.Spool != s {
		t.Fatal("ReadResultSpooled: the hosts are not in the spool alone")
	}
	// The view built while reading is the one WriteAll would build.
	fresh, err := newView(&model.Result{Source: s})
	if err != nil {
		t.Fatal(err)
	}
	opts := []cmp.Option{cmp.AllowUnexported(view{}, hostKey{}, placedRune{}, ruleRow{}), cmpopts.IgnoreFields(view{}, "src"), cmpopts.IgnoreFields(placedRune{}, "host", "ord")}
	if d := cmp.Diff(fresh, sp.Source.(*viewedSource).v, opts...); d != "" {
		t.Fatalf("view built while reading differs (-fresh +read):\n%s", d)
	}
	hosts := []model.HostResult{}
	if err := model.EachHost(sp.HostSource(), func(_ int, h *model.HostResult) error { hosts = append(hosts, *h); return nil }); err != nil {
		t.Fatal(err)
	}
	sp.Hosts, sp.Source = hosts, nil
	if len(mem.Hosts) == 0 && len(hosts) == 0 {
		sp.Hosts = mem.Hosts
	}
	if d := cmp.Diff(mem, sp); d != "" {
		t.Fatalf("ReadResultSpooled read another result (-ReadResult +spooled):\n%s", d)
	}
	return mem, nil
}

// TestReadResultStreamingRejects: the streaming reader rejects every
// malformed document ReadResult rejects, with the same reason.
func TestReadResultStreamingRejects(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, fixtureResult(30)); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	hostsAt := strings.Index(good, `"hosts": [`)
	tests := []struct {
		name, doc, want string
	}{
		{"trailing value", good + "{}", "trailing data"},
		{"trailing garbage", good + "<html>", "trailing data"},
		{"not JSON", "<html>", "read result document"},
		{"not an object", `["bitaudit.result/v1"]`, "not a JSON object"},
		{"empty", "", "read result document"},
		{"no schema", `{"run":{"id":"x"},"hosts":[]}`, `no "schema" field`},
		{"wrong schema", strings.Replace(good, model.ResultSchema, "bitaudit.result/v2", 1), `unsupported result schema "bitaudit.result/v2"`},
		{"missing run id", strings.Replace(good, `"id": "20261102T080000Z-7c1e"`, `"id": ""`, 1), "run.id is empty"},
		{"unknown status", strings.Replace(good, `"status": "timeout"`, `"status": "sleepy"`, 1), `unknown host status "sleepy"`},
		{"host without target", strings.Replace(good, `"target": "ws-00000.corp.example.test"`, `"target": ""`, 1), "has no target"},
		{"count too high", strings.Replace(good, `"hosts": 30,`, `"hosts": 31,`, 1), "summary counts 31 hosts, the document lists 30"},
		{"count too low", strings.Replace(good, `"hosts": 30,`, `"hosts": 29,`, 1), "summary counts 29 hosts"},
		{"count forged", strings.Replace(good, `"hosts": 30,`, `"hosts": 9000000000,`, 1), "summary counts 9000000000 hosts"},
		{"hosts not an array", good[:hostsAt] + `"hosts": {"target": "a"}}`, "hosts"},
		{"hosts a string", good[:hostsAt] + `"hosts": "all"}`, "hosts"},
		{"host not an object", strings.Replace(good, `"hosts": [`, `"hosts": [7,`, 1), "decode bitaudit.result/v1"},
		{"wrong type in a host", strings.Replace(good, `"duration_ns": `, `"duration_ns": "1s", "x": `, 1), "decode bitaudit.result/v1"},
		{"wrong type outside the hosts", strings.Replace(good, `"target_count": 30`, `"target_count": "30"`, 1), "decode bitaudit.result/v1"},
		{"hosts twice", strings.Replace(good, `"hosts": [`, `"hosts": [], "hosts": [`, 1), ""},
		{"truncated in a host", good[:hostsAt+5000], "read result document"},
		{"truncated after the hosts", good[:strings.LastIndex(good, "]")+1], "read result document"},
		{"truncated before the hosts", good[:hostsAt-10], "read result document"},
		{"truncated at the end", strings.TrimSpace(good)[:len(strings.TrimSpace(good))-1], "read result document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.doc == good {
				t.Fatal("test case did not change the document")
			}
			if tt.name == "hosts twice" {
				// encoding/json lets the last win; the streaming reader refuses.
				if _, _, err := ReadResultSpooled(strings.NewReader(tt.doc), t.TempDir()); err == nil || !strings.Contains(err.Error(), "appears twice") {
					t.Errorf("ReadResultSpooled error = %v, want one saying the hosts appear twice", err)
				}
				return
			}
			_, err := readBoth(t, tt.doc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestReadResultStreamingAccepts: documents ReadResult reads, read the same
// through the spool: in the order WriteJSON writes, hosts before the
// summary, fields in another case, no hosts, null hosts, unknown fields.
func TestReadResultStreamingAccepts(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, fixtureResult(30)); err != nil {
		t.Fatal(err)
	}
	// The same document with its fields in reverse order (hosts first).
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	var reversed bytes.Buffer
	reversed.WriteString("{")
	for i, k := range sortedKeys(fields) {
		if i > 0 {
			reversed.WriteString(",")
		}
		reversed.WriteString(`"` + k + `":` + string(fields[k]))
	}
	reversed.WriteString("}")
	for name, doc := range map[string]string{
		"as written":    buf.String(),
		"hosts first":   reversed.String(),
		"upper case":    strings.Replace(buf.String(), `"hosts": [`, `"HOSTS": [`, 1),
		"unknown field": strings.Replace(buf.String(), `"hosts": [`, `"later": {"a": [1, 2]}, "hosts": [`, 1),
		"no hosts":      `{"schema":"bitaudit.result/v1","run":{"id":"x"}}`,
		"null hosts":    `{"schema":"bitaudit.result/v1","run":{"id":"x"},"hosts":null}`,
		"empty hosts":   `{"schema":"bitaudit.result/v1","run":{"id":"x"},"summary":{"hosts":0},"hosts":[]}`,
		"one host":      `{"schema":"bitaudit.result/v1","run":{"id":"x"},"summary":{"hosts":1},"hosts":[{"target":"a","status":"timeout"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.HasPrefix(name, "as written") && !strings.Contains(name, "host") && doc == buf.String() {
				t.Fatal("test case did not change the document")
			}
			if _, err := readBoth(t, doc); err != nil {
				t.Fatal(err)
			}
		})
	}
	if !strings.HasPrefix(reversed.String(), `{"hosts":`) {
		t.Fatal("the reversed document does not start with its hosts")
	}
}
