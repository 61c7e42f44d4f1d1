// Command diffcheck holds the benchmark's references to the product's
// answer before anything is measured: it fetches GET /users/me/rooms from
// the product and from each reference with the same token and fails unless
// the Go reference's body is byte-identical to the product's, and each
// one-SQL reference's is the same JSON once timestamps are read as instants
// (those references write PostgreSQL's own timestamp format, and json_agg
// its own white space). It prints one JSON line per comparison.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/neuronmeet/api/bench/internal/ref"
)

type check struct {
	Name   string `json:"name"`
	Host   string `json:"host"`
	Mode   string `json:"mode"` // "bytes" or "json"
	Bytes  int    `json:"bytes"`
	Equal  bool   `json:"equal"`
	Detail string `json:"detail,omitempty"`
}

type urls []string

func (u *urls) String() string     { return strings.Join(*u, ",") }
func (u *urls) Set(s string) error { *u = append(*u, s); return nil }

func main() {
	var exact, sameJSON urls
	product := flag.String("product", "", "the product's GET /users/me/rooms URL")
	token := flag.String("token", "", "bearer token")
	host := flag.String("host", "", "label of the token's user, for the output")
	flag.Var(&exact, "bytes", "name=URL of a reference whose body must equal the product's byte for byte (repeatable)")
	flag.Var(&sameJSON, "json", "name=URL of a reference whose body must be the same JSON, timestamps as instants (repeatable)")
	flag.Parse()
	want, err := get(*product, *token)
	if err != nil {
		fail("product: %v", err)
	}
	failed := false
	run := func(spec, mode string) {
		name, url, ok := strings.Cut(spec, "=")
		if !ok {
			fail("%q: want name=URL", spec)
		}
		c := check{Name: name, Host: *host, Mode: mode}
		got, err := get(url, *token)
		c.Bytes = len(got)
		switch {
		case err != nil:
			c.Detail = err.Error()
		case mode == "bytes":
			c.Equal = bytes.Equal(got, want)
			if !c.Equal {
				c.Detail = firstDifference(got, want)
			}
		default:
			err := sameTokens(got, want)
			c.Equal = err == nil
			if err != nil {
				c.Detail = err.Error()
			}
		}
		failed = failed || !c.Equal
		_ = json.NewEncoder(os.Stdout).Encode(c)
		if !c.Equal {
			fmt.Fprintf(os.Stderr, "diffcheck: %s differs from the product for %s (%s): %s\n", name, *host, mode, c.Detail)
		}
	}
	for _, s := range exact {
		run(s, "bytes")
	}
	for _, s := range sameJSON {
		run(s, "json")
	}
	if failed {
		os.Exit(1)
	}
}

func get(url, token string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return ref.Body(http.DefaultClient, req)
}

func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-60)
	return fmt.Sprintf("%d vs %d bytes, first difference at byte %d: …%s… want …%s…",
		len(got), len(want), i, got[from:min(len(got), i+60)], want[from:min(len(want), i+60)])
}

// sameTokens compares two documents token by token, so key order and every
// value count, white space does not, and a string that is a timestamp in
// either format compares as its instant truncated to the millisecond.
func sameTokens(got, want []byte) error {
	dg, dw := json.NewDecoder(bytes.NewReader(got)), json.NewDecoder(bytes.NewReader(want))
	dg.UseNumber()
	dw.UseNumber()
	for n := 0; ; n++ {
		tg, eg := dg.Token()
		tw, ew := dw.Token()
		if errors.Is(eg, io.EOF) && errors.Is(ew, io.EOF) {
			return nil
		}
		if eg != nil || ew != nil {
			return fmt.Errorf("token %d: %v / %v", n, eg, ew)
		}
		if normal(tg) != normal(tw) {
			return fmt.Errorf("token %d (offset %d): %v, want %v", n, dg.InputOffset(), tg, tw)
		}
	}
}

func normal(t json.Token) any {
	s, ok := t.(string)
	if !ok {
		return t
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		}
	}
	return s
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "diffcheck: "+format+"\n", args...)
	os.Exit(2)
}
