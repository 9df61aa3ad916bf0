package bitlocker

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// oneOrMany decodes Windows PowerShell 5.1 ConvertTo-Json output, which is a
// single object for one item and an array for several.
func oneOrMany[T any](what string, data []byte) ([]T, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, protocolf("%s: no JSON", what)
	}
	switch data[0] {
	case '[':
		var out []T
		if err := unmarshal(data, &out); err != nil {
			return nil, protocolf("%s: %v", what, err)
		}
		if out == nil {
			out = []T{}
		}
		return out, nil
	case '{':
		var one T
		if err := unmarshal(data, &one); err != nil {
			return nil, protocolf("%s: %v", what, err)
		}
		return []T{one}, nil
	}
	return nil, protocolf("%s: not a JSON object or array", what)
}

// unmarshal decodes one JSON value; trailing data is an error. Numbers go
// into json.Number (or integer) fields: nothing here decodes into an
// interface, where json.Unmarshal would make a float64 of them. Its errors
// name the JSON position or type, never the offending value.
func unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return jsonError(err)
	}
	return nil
}

type jsonErr string

func (e jsonErr) Error() string { return string(e) }

// jsonError turns a decoding error into text that cannot echo host data.
func jsonError(err error) error {
	switch e := err.(type) {
	case *json.SyntaxError:
		return jsonErr("invalid JSON at offset " + itoa(e.Offset))
	case *json.UnmarshalTypeError:
		return jsonErr("unexpected JSON " + e.Value + " for " + strings.TrimPrefix(e.Field, ".") + " at offset " + itoa(e.Offset))
	case jsonErr:
		return e
	}
	return jsonErr("invalid JSON value (wrong type or malformed number)")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// integer reads a JSON integer; ok is false when the value is absent (null).
func integer(name string, n *json.Number, min, max int64) (v int64, ok bool, err error) {
	if n == nil {
		return 0, false, nil
	}
	v, err = n.Int64()
	if err != nil || v < min || v > max {
		return 0, false, protocolf("%s: not an integer in range", name)
	}
	return v, true, nil
}

// required is integer for a value that must be present.
func required(name string, n *json.Number, min, max int64) (int64, error) {
	v, ok, err := integer(name, n, min, max)
	if err == nil && !ok {
		err = protocolf("%s: missing", name)
	}
	return v, err
}
