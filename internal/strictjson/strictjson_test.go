package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

type form struct {
	Email    string `json:"email"`
	Password string `json:"password,omitempty"`
	Ignored  string `json:"-"`
	Nested   *struct {
		Name string `json:"name"`
	} `json:"nested"`
	List []struct {
		Value int `json:"value"`
	} `json:"list"`
	Extra map[string]any `json:"extra"`
}

func TestUnmarshal_RefusesWhatEncodingJSONForgives(t *testing.T) {
	var (
		trailing = ErrTrailingData
		dup      = func(k string) error { return &DuplicateKeyError{Key: k} }
		folded   = func(k, f string) error { return &KeyCaseError{Key: k, Field: f} }
	)
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	for _, c := range []struct {
		name, body string
		want       error
	}{
		{"exact keys", `{"email":"a","password":"b"}`, nil},
		{"trailing whitespace", "{\"email\":\"a\"} \r\n\t", nil},
		{"leading whitespace", " \n{\"email\":\"a\"}", nil},
		{"trailing garbage", `{"email":"a"}garbage`, trailing},
		{"a second value", `{"email":"a"} {}`, trailing},
		{"a closing brace too many", `{"email":"a"}}`, trailing},
		{"a closing bracket", `{"email":"a"}]`, trailing},
		{"duplicate key", `{"email":"a","email":"b"}`, dup("email")},
		{"duplicate unknown key", `{"email":"a","x":1,"x":2}`, dup("x")},
		{"duplicate key spelt with an escape", `{"email":"a","\u0065mail":"b"}`, dup("email")},
		{"duplicate key in a map", `{"extra":{"a":1,"b":{"c":[{"d":1,"d":2}]}}}`, dup("d")},
		{"duplicate key in a nested struct", `{"nested":{"name":"a","name":"b"}}`, dup("name")},
		{"the same key in sibling objects", `{"list":[{"value":1},{"value":2}],"extra":{"value":3}}`, nil},
		{"a key in the parent and in its child", `{"extra":{"extra":{"extra":1}}}`, nil},
		{"strings that look like keys", `{"email":"\"email\":","password":"}{,\\"}`, nil},
		{"duplicate key among many", `{"extra":{` + strings.Join(many, ",") + `,"k3":0}}`, dup("k3")},
		{"many distinct keys", `{"extra":{` + strings.Join(many, ",") + `}}`, nil},
		{"key in capitals", `{"EMAIL":"a"}`, folded("EMAIL", "email")},
		{"key with one capital", `{"email":"a","passWord":"b"}`, folded("passWord", "password")},
		{"key in a nested struct in capitals", `{"nested":{"Name":"a"}}`, folded("Name", "name")},
		{"key in a list of structs in capitals", `{"list":[{"value":1},{"VALUE":2}]}`, folded("VALUE", "value")},
		{"map keys are any case", `{"extra":{"Email":1,"EMAIL":2}}`, nil},
		{"unknown keys are the decoder's business", `{"other":1}`, nil},
		{"a field named \"-\" is not a key", `{"Ignored":"x"}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var f form
			err := Unmarshal([]byte(c.body), &f, Options{})
			if fmt.Sprint(err) != fmt.Sprint(c.want) {
				t.Errorf("Unmarshal(%s) = %v, want %v", c.body, err, c.want)
			}
		})
	}
}

// What the decoder refuses stays its own error, for callers that word it.
func TestUnmarshal_KeepsTheDecodersErrors(t *testing.T) {
	var f form
	var typeErr *json.UnmarshalTypeError
	if err := Unmarshal([]byte(`{"email":5}`), &f, Options{}); !errors.As(err, &typeErr) {
		t.Errorf("wrong type: %v, want an UnmarshalTypeError", err)
	}
	if err := Unmarshal([]byte(`{"email":"a","x":1}`), &f, Options{DisallowUnknownFields: true}); err == nil || !strings.Contains(err.Error(), `unknown field "x"`) {
		t.Errorf("unknown field: %v", err)
	}
	var syntaxErr *json.SyntaxError
	if err := Unmarshal([]byte(`{"email":`), &f, Options{}); err == nil || errors.Is(err, ErrTrailingData) || errors.As(err, &syntaxErr) == false && err.Error() != "unexpected EOF" {
		t.Errorf("truncated body: %v", err)
	}
	var v map[string]any
	if err := Unmarshal([]byte(`{"n":1.50}`), &v, Options{UseNumber: true}); err != nil || v["n"] != json.Number("1.50") {
		t.Errorf("UseNumber: %v %#v", err, v)
	}
}

// An ordinary body costs the checks no allocation.
func TestUnmarshal_ChecksAllocateNothing(t *testing.T) {
	body := []byte(`{"email":"a","nested":{"name":"b"},"list":[{"value":1},{"value":2}],"extra":{"a":[1,{"b":true}],"c":null}}`)
	var f form
	plain := testing.AllocsPerRun(100, func() {
		f = form{}
		_ = json.NewDecoder(bytes.NewReader(body)).Decode(&f)
	})
	strict := testing.AllocsPerRun(100, func() { f = form{}; _ = Unmarshal(body, &f, Options{}) })
	if strict > plain {
		t.Errorf("Unmarshal allocates %v times, a json.Decoder %v", strict, plain)
	}
}
