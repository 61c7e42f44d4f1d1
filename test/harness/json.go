package harness

import (
	"bytes"
	"encoding/json"
	"testing"
)

// JSON encodes v, which must be encodable (maps, slices and values the
// test wrote): a failure is a bug in the test.
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Object is a JSON object with its keys in document order, which the
// legacy clients' contract fixes.
type Object struct {
	Keys []string
	Vals map[string]json.RawMessage
}

// ParseObject parses raw as a JSON object, keeping its key order; a
// duplicate key fails the test.
func ParseObject(t testing.TB, raw []byte) Object {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %.200s", raw)
	}
	o := Object{Vals: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("bad object %.200s: %v", raw, err)
		}
		key := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("bad object %.200s: %v", raw, err)
		}
		if _, dup := o.Vals[key]; dup {
			t.Fatalf("duplicate key %q in %.200s", key, raw)
		}
		o.Keys = append(o.Keys, key)
		o.Vals[key] = v
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("bad object %.200s: %v", raw, err)
	}
	return o
}

// Str returns the string value of key, failing unless it is a string.
func (o Object) Str(t testing.TB, key string) string {
	t.Helper()
	var s *string
	if err := json.Unmarshal(o.Vals[key], &s); err != nil || s == nil {
		t.Fatalf("%q = %s, want a string", key, o.Vals[key])
	}
	return *s
}

// Bool returns the boolean value of key, failing unless it is a boolean.
func (o Object) Bool(t testing.TB, key string) bool {
	t.Helper()
	var b *bool
	if err := json.Unmarshal(o.Vals[key], &b); err != nil || b == nil {
		t.Fatalf("%q = %s, want a boolean", key, o.Vals[key])
	}
	return *b
}

// ParseArray parses raw as a JSON array (never null).
func ParseArray(t testing.TB, raw []byte) []json.RawMessage {
	t.Helper()
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil || a == nil {
		t.Fatalf("not a JSON array: %.200s", raw)
	}
	return a
}
