package auth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// A bearer token far longer than any we issue is refused without being
// parsed: the refusal allocates next to nothing, however long the header.
func TestMiddleware_OversizedTokenRefusedUnparsed(t *testing.T) {
	tk := newFixedTokens(testSecret, testTTL, fixedNow)
	huge := "Bearer " + strings.Repeat("a.", 30<<10) + "a"
	r := httptest.NewRequest(http.MethodPost, "/query", nil)
	r.Header.Set("Authorization", huge)
	p, called := principalFor(t, tk, r)
	if !called || p == nil || p.Err == nil || p.UserID != "" {
		t.Fatalf("oversized token: principal %+v, called %v; want an invalid-token principal", p, called)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const rounds = 50
	for i := 0; i < rounds; i++ {
		_ = tk.principal(huge)
	}
	runtime.ReadMemStats(&after)
	if perCall := (after.TotalAlloc - before.TotalAlloc) / rounds; perCall > 1024 {
		t.Errorf("refusing a %d-byte token allocated %d bytes per call; it should not be decoded at all", len(huge), perCall)
	}
	// A real token is well under the cap.
	token, err := tk.IssueUser("c"+strings.Repeat("x", 24), strings.Repeat("e", 300)+"@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(token) > maxTokenBytes/4 {
		t.Errorf("a token with a 320-byte email is %d bytes: the %d-byte cap leaves too little room", len(token), maxTokenBytes)
	}
}

// golang-jwt before v5.2.2 allocated without bound while splitting a
// crafted header (GHSA-mh63-6h87-95cp / CVE-2025-30204). Test binaries
// carry no dependency versions, so this reads the module's go.mod, which
// decides the version every build uses.
func TestDependencies_JWTLibraryHasTheHeaderParsingFix(t *testing.T) {
	raw, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := modfile.Parse("go.mod", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := ""
	for _, r := range mod.Require {
		if r.Mod.Path == "github.com/golang-jwt/jwt/v5" {
			v = r.Mod.Version
		}
	}
	for _, r := range mod.Replace {
		if r.Old.Path == "github.com/golang-jwt/jwt/v5" {
			v = r.New.Version
		}
	}
	if v == "" {
		t.Fatal("github.com/golang-jwt/jwt/v5 is not required in go.mod")
	}
	if semver.Compare(v, "v5.2.2") < 0 {
		t.Errorf("github.com/golang-jwt/jwt/v5 %s is affected by GHSA-mh63-6h87-95cp; need v5.2.2 or later", v)
	}
}
