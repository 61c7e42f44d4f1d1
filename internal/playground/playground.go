// Package playground serves GraphiQL at GET / from files embedded in the
// binary, so that the page, its scripts, styles, fonts and Monaco's
// workers all come from this server and the browser is told to load
// nothing from anywhere else.
//
// dist/ is built from assets-src/ by `make playground-assets` and
// committed: building the server needs Go only. dist/manifest.json names
// the files the page loads, the versions they were built from and their
// checksums.
package playground

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

// AssetsPath is where the bundle's files are served, under their hashed
// names.
const AssetsPath = "/playground/assets/"

// DefaultQuery opens the playground on the dashboard a client shows: the
// signed-in user's rooms with their settings and who is in them.
const DefaultQuery = `# NeuronMeet API. Put your token in the Headers tab below
# ({"Authorization": "Bearer <accessToken>"}: from make seed, or the
# register or login mutation), then run this query with the ▶ button.
query Dashboard {
  me {
    displayName
    rooms(status: ACTIVE, first: 20) {
      id
      code
      name
      isActive
      createdAt
      settings {
        allowChat
        waitingRoom
        maxParticipants
      }
      participants(activeOnly: true) {
        displayName
        isHost
        joinedAt
        user {
          avatarUrl
        }
      }
    }
  }
}
`

// DefaultHeaders pre-fills the headers editor with the one header every
// signed-in operation needs, waiting for its token.
const DefaultHeaders = `{"Authorization": "Bearer "}`

// Config is what the page is set up with.
type Config struct {
	// Title is the page's title: the server's name.
	Title string
	// Endpoint is the GraphQL path, for queries over HTTP and
	// subscriptions over websockets alike.
	Endpoint string
}

// manifest is dist/manifest.json, as assets-src/build.mjs writes it.
type manifest struct {
	Script     string            `json:"script"`
	Stylesheet string            `json:"stylesheet"`
	Workers    map[string]string `json:"workers"`
}

// Playground serves the page and its assets.
type Playground struct {
	page   []byte
	assets fs.FS
	names  map[string]bool
}

// New builds the page for cfg. It fails only when the embedded bundle is
// broken (a manifest naming files that are not there), which the
// package's tests catch before any build ships.
func New(cfg Config) (*Playground, error) {
	assets, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, err
	}
	raw, err := fs.ReadFile(assets, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("playground: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("playground: manifest.json: %w", err)
	}
	entries, err := fs.ReadDir(assets, ".")
	if err != nil {
		return nil, err
	}
	p := &Playground{assets: assets, names: map[string]bool{}}
	for _, e := range entries {
		// The manifest is the build's record, not something the page loads;
		// every other file is named after its content's hash (the licence
		// notices after their file's, and never served: see contentTypes).
		if e.Name() != "manifest.json" {
			p.names[e.Name()] = true
		}
	}
	workers := map[string]string{}
	for label, name := range m.Workers {
		workers[label] = AssetsPath + name
	}
	for _, name := range append([]string{m.Script, m.Stylesheet}, slices.Collect(maps.Values(m.Workers))...) {
		if !p.names[name] {
			return nil, fmt.Errorf("playground: manifest.json names %q, which is not in dist/", name)
		}
	}
	settings, err := json.Marshal(map[string]any{
		"endpoint": cfg.Endpoint, "defaultQuery": DefaultQuery, "defaultHeaders": DefaultHeaders, "workers": workers,
	})
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	err = pageTemplate.Execute(&page, map[string]any{
		"Title": cfg.Title, "Script": AssetsPath + m.Script, "Stylesheet": AssetsPath + m.Stylesheet,
		// encoding/json escapes <, > and &, so the block cannot end early.
		"Config": template.JS(settings),
	})
	if err != nil {
		return nil, err
	}
	p.page = page.Bytes()
	return p, nil
}

// The configuration is a JSON data block, which browsers never execute:
// the policy below allows no inline script at all.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.Stylesheet}}">
<script id="playground-config" type="application/json">{{.Config}}</script>
<script defer src="{{.Script}}"></script>
</head>
<body><div id="graphiql">Loading the playground…</div></body>
</html>
`))

// Register adds the page (GET /) and its assets to mux.
func (p *Playground) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.servePage)
	mux.HandleFunc("GET "+AssetsPath+"{name}", p.serveAsset)
}

// ContentSecurityPolicy lets the page load and connect to its own origin
// only. Styles may be inline because Monaco writes its theme into <style>
// elements at run time; fonts may be data: URLs because GraphiQL's
// stylesheet carries its fonts inline. connect-src 'self' covers the
// websocket on the same host and port in current browsers.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; worker-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Cache lifetimes: an asset's name changes with its content, so a browser
// may keep it for good; the page names the current assets, so it is
// revalidated every time.
const (
	AssetCacheControl = "public, max-age=31536000, immutable"
	PageCacheControl  = "no-cache"
)

func (p *Playground) servePage(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	w.Header().Set("Cache-Control", PageCacheControl)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(p.page)
}

// contentTypes are the types of the files the page loads; anything else
// in dist/ is not for browsers.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".ttf": "font/ttf",
}

func (p *Playground) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ctype, ok := contentTypes[path.Ext(name)]
	if !ok || !p.names[name] {
		http.NotFound(w, r)
		return
	}
	body, err := fs.ReadFile(p.assets, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	// Workers get the page's policy from their own response.
	setSecurityHeaders(h)
	h.Set("Cache-Control", AssetCacheControl)
	h.Set("Content-Type", ctype)
	// The name is the content's hash: a fine entity tag.
	h.Set("ETag", `"`+strings.TrimSuffix(name, path.Ext(name))+`"`)
	// Embedded files have no modification time; the ETag serves instead.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
