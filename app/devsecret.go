package app

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// devSecretFile is the development secret's file name, in the directory
// of SQLITE_PATH.
const devSecretFile = "jwt-secret"

// newSecret is 32 random bytes, hex-encoded: text, so that a developer can
// hand it to another service as its JWT_SECRET, and as long as production
// requires.
func newSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return []byte(hex.EncodeToString(b))
}

// useSecretFile makes cfg sign with the development secret kept in
// cfg.secretFile (when JWT_SECRET is unset in development), creating it on
// first use, and logs where it lives. The commands that sign tokens call
// it: seed and serve, so a token seed prints works against the server and
// after its restarts.
func useSecretFile(cfg *Config, log *slog.Logger) error {
	if cfg.secretFile == "" {
		return nil
	}
	secret, created, err := loadOrCreateSecret(cfg.secretFile)
	if err != nil {
		return fmt.Errorf("JWT_SECRET is unset and the development secret cannot be kept (set JWT_SECRET): %w", err)
	}
	cfg.JWTSecret = secret
	log.Warn("JWT_SECRET is not set: signing tokens with the development secret in "+cfg.secretFile+
		" (delete the file to end every token). APP_ENV=production refuses to start without JWT_SECRET.",
		"secret_file", cfg.secretFile, "created", created)
	return nil
}

// loadOrCreateSecret reads the secret at path or, when there is none,
// makes one there, readable by its owner only. Processes starting at once
// (make seed beside make run) agree on one secret: each writes its own to
// a temporary file and links it into place, and a link, unlike a rename,
// never replaces a file, so the first wins and the others read its
// secret. The file is whole whenever it exists.
func loadOrCreateSecret(path string) (secret []byte, created bool, err error) {
	if secret, err := readSecret(path); !errors.Is(err, fs.ErrNotExist) {
		return secret, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, false, fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".jwt-secret-*") // mode 0600
	if err != nil {
		return nil, false, fmt.Errorf("create the development secret: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	secret = newSecret()
	_, err = tmp.Write(append(secret, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("write the development secret: %w", err)
	}
	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
		return secret, true, nil
	case errors.Is(err, fs.ErrExist):
		secret, err := readSecret(path)
		return secret, false, err
	default:
		return nil, false, fmt.Errorf("keep the development secret at %s: %w", path, err)
	}
}

// readSecret reads a development secret, refusing one too short to be
// one of ours (a file emptied or edited by hand).
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	secret := bytes.TrimSpace(b)
	if len(secret) < minProductionSecret {
		return nil, fmt.Errorf("%s holds %d bytes, want at least %d: delete it to have a new secret made", path, len(secret), minProductionSecret)
	}
	return secret, nil
}
