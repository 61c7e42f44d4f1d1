package app

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Without JWT_SECRET, development keeps its secret in the directory of
// SQLITE_PATH, with PostgreSQL too; production refuses to start instead.
func TestConfig_DevelopmentSecretLivesBesideTheSQLiteFile(t *testing.T) {
	const pg = "postgres://postgres@127.0.0.1:5432/neuronmeet?sslmode=disable"
	strong := strings.Repeat("s", minProductionSecret)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // the secret file; "" for none
	}{
		{"SQLite, default path", nil, filepath.Join("data", devSecretFile)},
		{"SQLite", map[string]string{"SQLITE_PATH": "/srv/nm/neuronmeet.db"}, "/srv/nm/" + devSecretFile},
		{"PostgreSQL", map[string]string{"DATABASE_URL": pg}, filepath.Join("data", devSecretFile)},
		{"PostgreSQL with SQLITE_PATH", map[string]string{"DATABASE_URL": pg, "SQLITE_PATH": "/srv/nm/x.db"}, "/srv/nm/" + devSecretFile},
		{"JWT_SECRET set", map[string]string{"JWT_SECRET": "dev-secret-change-me"}, ""},
		{"production", map[string]string{"APP_ENV": "production", "JWT_SECRET": strong}, ""},
	} {
		cfg, err := LoadConfig(envFrom(tc.env))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if cfg.secretFile != tc.want {
			t.Errorf("%s: secret file %q, want %q", tc.name, cfg.secretFile, tc.want)
		}
		if s := tc.env["JWT_SECRET"]; s != "" && string(cfg.JWTSecret) != s {
			t.Errorf("%s: signs with %q, not JWT_SECRET", tc.name, cfg.JWTSecret)
		}
	}
	if _, err := LoadConfig(envFrom(map[string]string{"APP_ENV": "production", "SQLITE_PATH": filepath.Join(t.TempDir(), "x.db")})); err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
		t.Errorf("production without JWT_SECRET: %v, want a refusal naming it", err)
	}
}

// The first command to need the secret makes it, readable by its owner
// only; every later one signs with the same, says where it is, and never
// logs it.
func TestDevSecret_MadeOnceAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "neuronmeet.db")
	var secrets [2][]byte
	for i := range secrets {
		cfg, err := LoadConfig(envFrom(map[string]string{"SQLITE_PATH": path}))
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		if err := useSecretFile(&cfg, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
			t.Fatal(err)
		}
		secrets[i] = cfg.JWTSecret
		if !strings.Contains(logs.String(), cfg.secretFile) || strings.Contains(logs.String(), string(cfg.JWTSecret)) {
			t.Errorf("start %d logged %s; want the file named and the secret nowhere", i+1, logs.String())
		}
		if wantCreated := `"created":` + map[int]string{0: "true", 1: "false"}[i]; !strings.Contains(logs.String(), wantCreated) {
			t.Errorf("start %d logged %s, want %s", i+1, logs.String(), wantCreated)
		}
	}
	if !bytes.Equal(secrets[0], secrets[1]) || len(secrets[0]) < minProductionSecret {
		t.Errorf("two starts signed with %q and %q, want one secret of at least %d bytes", secrets[0], secrets[1], minProductionSecret)
	}
	file := filepath.Join(filepath.Dir(path), devSecretFile)
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %o, want 600", file, mode)
	}
}

// seed and run started together must not each make a secret of their
// own: one wins, and everyone signs with it.
func TestDevSecret_StartsAtOnceAgree(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, devSecretFile)
	const n = 16
	var (
		wg      sync.WaitGroup
		secrets [n][]byte
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { secrets[i], created[i], errs[i] = loadOrCreateSecret(path) })
	}
	wg.Wait()
	makers := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if !bytes.Equal(secrets[i], secrets[0]) {
			t.Errorf("start %d signs with %q, start 0 with %q", i, secrets[i], secrets[0])
		}
		if created[i] {
			makers++
		}
	}
	if makers != 1 {
		t.Errorf("%d starts say they made the secret, want 1", makers)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind %d files, want only %s: %v", len(entries), devSecretFile, entries)
	}
}

// A secret file emptied or cut short by hand is refused, not signed with.
func TestDevSecret_RefusesAShortFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), devSecretFile)
	if err := os.WriteFile(path, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadOrCreateSecret(path); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("a 5-byte secret file: %v, want a refusal saying what to do", err)
	}
}
