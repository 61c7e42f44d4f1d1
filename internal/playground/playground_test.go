package playground

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"testing"
)

// The committed bundle is whole: every file the manifest names is there,
// and every file has the checksum the build recorded, so a file edited or
// replaced by hand (rather than by make playground-assets) fails here.
func TestBundle_MatchesItsManifest(t *testing.T) {
	if _, err := New(Config{Title: "t", Endpoint: "/query"}); err != nil {
		t.Fatal(err)
	}
	raw, err := fs.ReadFile(dist, "dist/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		SHA256   map[string]string `json:"sha256"`
		Versions map[string]string `json:"versions"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(dist, "dist")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "manifest.json" {
			continue
		}
		b, err := fs.ReadFile(dist, "dist/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if want := m.SHA256[e.Name()]; hex.EncodeToString(sum[:]) != want {
			t.Errorf("dist/%s has sha256 %x, the manifest says %q: run make playground-assets", e.Name(), sum, want)
		}
		delete(m.SHA256, e.Name())
	}
	for name := range m.SHA256 {
		t.Errorf("the manifest lists dist/%s, which is missing", name)
	}
	if m.Versions["graphiql"] == "" || m.Versions["react"] == "" {
		t.Errorf("the manifest records no versions: %v", m.Versions)
	}
}
