// Package strictjson decodes request bodies the way JSON is written, not
// the way encoding/json forgives it: one value and nothing after it, each
// key at most once per object, and struct fields matched by their exact
// names. encoding/json takes the last of duplicate keys and matches keys
// case-insensitively, so a body could say one thing to a proxy or a
// validator in front of us and another to us; and it leaves what follows
// the value to the caller.
//
// The standard decoder still does the decoding (and its errors are
// returned as they are); this package only adds the checks, in one pass
// over the bytes that allocates nothing for ordinary bodies. It is small
// on purpose: encoding/json/v2 (and github.com/go-json-experiment/json)
// would do all of it, but the first needs GOEXPERIMENT=jsonv2 on our Go
// and the second is not available to our builds.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Options are encoding/json's decoder settings.
type Options struct {
	// UseNumber keeps numbers as json.Number.
	UseNumber bool
	// DisallowUnknownFields refuses keys no field of the struct has.
	DisallowUnknownFields bool
}

// ErrTrailingData is a body with more than whitespace after its value.
var ErrTrailingData = errors.New("unexpected data after the JSON value")

// DuplicateKeyError is an object that has Key twice.
type DuplicateKeyError struct{ Key string }

func (e *DuplicateKeyError) Error() string { return fmt.Sprintf("duplicate key %q", e.Key) }

// KeyCaseError is a key that names a field only when case is ignored.
type KeyCaseError struct{ Key, Field string }

func (e *KeyCaseError) Error() string {
	return fmt.Sprintf("unknown key %q (keys are case-sensitive: the field is %q)", e.Key, e.Field)
}

// Unmarshal decodes data into dst (a pointer) as encoding/json would with
// opt, then refuses trailing data, duplicate keys (at any depth, maps and
// unknown keys included) and keys that match one of dst's struct fields
// (or a nested struct's) only case-insensitively. Only whitespace may
// follow the value.
func Unmarshal(data []byte, dst any, opt Options) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if opt.UseNumber {
		dec.UseNumber()
	}
	if opt.DisallowUnknownFields {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return err
	}
	end := int(dec.InputOffset())
	if len(bytes.TrimLeft(data[end:], " \t\r\n")) > 0 {
		return ErrTrailingData
	}
	return scan(data[:end], fieldsOf(reflect.TypeOf(dst)))
}

// scan walks a JSON value that encoding/json has accepted, so it never
// meets a syntax error: it only finds the keys. fields describes the
// struct the value decodes into (nil: not a struct, or not checked).
//
// It is one loop over explicit stacks rather than a recursive descent so
// that the stacks stay on the goroutine's stack: bodies seldom nest
// deeper, or have more keys open at once, than these arrays hold.
func scan(data []byte, fields *structFields) error {
	var (
		frameArray [16]frame
		keyArray   [32]span
		frames     = frameArray[:0]
		keys       = keyArray[:0]
		s          = scanner{data: data}
		next       = fields // what the value about to be scanned decodes into
	)
	for {
		s.skipSpace()
		switch c := s.data[s.i]; c {
		case '{', '[':
			s.i++
			frames = append(frames, frame{object: c == '{', first: len(keys), fields: next})
		case '}', ']':
			s.i++
			top := &frames[len(frames)-1]
			keys = keys[:top.first]
			frames = frames[:len(frames)-1]
		case '"':
			s.str()
		case ',':
			s.i++
		default: // number, true, false, null
			for s.i < len(s.data) && !strings.ContainsRune(",]} \t\r\n", rune(s.data[s.i])) {
				s.i++
			}
		}
		if len(frames) == 0 {
			return nil
		}
		top := &frames[len(frames)-1]
		s.skipSpace()
		switch s.data[s.i] {
		case '}', ']', ',':
			continue
		}
		if !top.object {
			next = top.fields.elem()
			continue
		}
		// At a key: check it, then scan its value.
		key := s.str()
		if err := top.add(&s, keys[top.first:], key); err != nil {
			return err
		}
		if top.many == nil {
			keys = append(keys, key)
		}
		child, err := top.fields.field(&s, key)
		if err != nil {
			return err
		}
		next = child
		s.skipSpace()
		s.i++ // :
	}
}

// frame is an object or array being scanned.
type frame struct {
	object bool
	// first is where the object's keys start in the keys stack.
	first  int
	fields *structFields
	// many holds the keys of an object with more than linearKeys, which
	// stop being compared one by one (and kept on the keys stack).
	many map[string]struct{}
}

// linearKeys is how many keys an object compares one by one; beyond that
// it keeps them in a map, so a huge object costs O(n), not O(n²).
const linearKeys = 16

// add refuses key if the object has it already; own is the object's keys
// on the keys stack.
func (f *frame) add(s *scanner, own []span, key span) error {
	if f.many == nil {
		for _, k := range own {
			if s.sameKey(k, key) {
				return &DuplicateKeyError{Key: s.text(key)}
			}
		}
		if len(own) < linearKeys {
			return nil
		}
		f.many = make(map[string]struct{}, 2*linearKeys)
		for _, k := range own {
			f.many[s.text(k)] = struct{}{}
		}
	}
	text := s.text(key)
	if _, dup := f.many[text]; dup {
		return &DuplicateKeyError{Key: text}
	}
	f.many[text] = struct{}{}
	return nil
}

type scanner struct {
	data []byte
	i    int
}

// span is a key, as where its raw text lies in the data: offsets rather
// than slices, so that the keys' stack holds no pointers.
type span struct {
	start, end int
	escaped    bool
}

func (s *scanner) raw(k span) []byte { return s.data[k.start:k.end] }

// text is what k says, its escapes decoded.
func (s *scanner) text(k span) string {
	if !k.escaped {
		return string(s.raw(k))
	}
	var t string
	_ = json.Unmarshal(s.data[k.start-1:k.end+1], &t) // the data is valid JSON
	return t
}

func (s *scanner) sameKey(a, b span) bool {
	if !a.escaped && !b.escaped {
		return bytes.Equal(s.raw(a), s.raw(b))
	}
	return s.text(a) == s.text(b)
}

func (s *scanner) skipSpace() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// str scans the string at s.i and returns where its contents lie.
func (s *scanner) str() span {
	s.i++ // opening quote
	k := span{start: s.i}
	for s.data[s.i] != '"' {
		if s.data[s.i] == '\\' {
			k.escaped = true
			s.i++
		}
		s.i++
	}
	k.end = s.i
	s.i++
	return k
}

// structFields is what a struct type's keys may be: its fields' exact
// JSON names, with what each field's value decodes into.
type structFields struct {
	names []string
	types []*structFields
	// each is, for a slice or array of structs, the element's fields.
	each *structFields
}

// field returns the fields of the value under key, or a KeyCaseError when
// key names a field only case-insensitively.
func (f *structFields) field(s *scanner, k span) (*structFields, error) {
	if f == nil {
		return nil, nil
	}
	key := s.raw(k)
	if k.escaped {
		key = []byte(s.text(k))
	}
	for i, name := range f.names {
		if name == string(key) {
			return f.types[i], nil
		}
	}
	for _, name := range f.names {
		if strings.EqualFold(name, string(key)) {
			return nil, &KeyCaseError{Key: string(key), Field: name}
		}
	}
	return nil, nil
}

func (f *structFields) elem() *structFields {
	if f == nil {
		return nil
	}
	return f.each
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	fieldsCache     sync.Map // reflect.Type → *structFields
)

// fieldsOf describes t as encoding/json fills it: nil for anything but a
// struct (through pointers), or a slice or array of them, that decodes
// itself field by field.
func fieldsOf(t reflect.Type) *structFields {
	if t == nil {
		return nil
	}
	if f, ok := fieldsCache.Load(t); ok {
		return f.(*structFields)
	}
	f := buildFields(t, map[reflect.Type]*structFields{})
	fieldsCache.Store(t, f)
	return f
}

func buildFields(t reflect.Type, building map[reflect.Type]*structFields) *structFields {
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return nil
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	if f, ok := building[t]; ok { // a recursive type
		return f
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if each := buildFields(t.Elem(), building); each != nil {
			return &structFields{each: each}
		}
		return nil
	case reflect.Struct:
	default:
		return nil
	}
	f := &structFields{}
	building[t] = f
	for _, sf := range reflect.VisibleFields(t) {
		if sf.Anonymous || !sf.IsExported() {
			continue // promoted fields are listed by VisibleFields too
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f.names = append(f.names, name)
		f.types = append(f.types, buildFields(sf.Type, building))
	}
	return f
}
