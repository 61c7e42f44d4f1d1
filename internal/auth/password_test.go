package auth

import (
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswords_HashCheckRoundTrip(t *testing.T) {
	p, err := NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"correct-horse", "12345678", "pässwörd-ünïcode", strings.Repeat("x", 72)} {
		h, err := p.Hash(pw)
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		if h == pw || strings.Contains(h, pw) {
			t.Fatalf("hash %q contains the password", h)
		}
		if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != bcrypt.MinCost {
			t.Errorf("hash cost = %d, %v; want %d", cost, err, bcrypt.MinCost)
		}
		if ok, err := p.Check(h, pw); !ok || err != nil {
			t.Errorf("Check(Hash(%q), %q) = %v, %v; want true", pw, pw, ok, err)
		}
		for _, wrong := range []string{"", pw[:len(pw)-1], pw + "!", strings.ToUpper(pw), "no account has this password"} {
			if wrong == pw {
				continue
			}
			if ok, err := p.Check(h, wrong); ok || err != nil {
				t.Errorf("Check(Hash(%q), %q) = %v, %v; want false, nil", pw, wrong, ok, err)
			}
		}
		// Salted: hashing again gives another hash that checks too.
		h2, err := p.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		if h2 == h {
			t.Errorf("two hashes of %q are identical: unsalted?", pw)
		}
	}
}

// bcrypt only reads 72 bytes: a longer password is refused by Hash and
// never matches the hash of its first 72 bytes in Check.
func TestPasswords_Over72Bytes(t *testing.T) {
	p, err := NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 36) // exactly 72 bytes
	h, err := p.Hash(long)
	if err != nil {
		t.Fatalf("Hash(72 bytes): %v", err)
	}
	if ok, err := p.Check(h, long); !ok || err != nil {
		t.Errorf("Check(72-byte password) = %v, %v; want true", ok, err)
	}
	for _, longer := range []string{long + "x", long + "é", long + strings.Repeat("z", 100)} {
		if ok, err := p.Check(h, longer); ok || err != nil {
			t.Errorf("Check(hash of its 72-byte prefix, %d-byte password) = %v, %v; want false, nil", len(longer), ok, err)
		}
		if ok, err := p.Check("", longer); ok || err != nil {
			t.Errorf("Check(\"\", %d-byte password) = %v, %v; want false, nil", len(longer), ok, err)
		}
		if _, err := p.Hash(longer); err == nil {
			t.Errorf("Hash(%d bytes) succeeded; bcrypt would ignore the excess", len(longer))
		}
	}
}

// No account (empty hash) never signs anyone in, not even with the dummy
// hash's own password, and it is not an error.
func TestPasswords_CheckWithoutAccount(t *testing.T) {
	p, err := NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "correct-horse", "no account has this password"} {
		if ok, err := p.Check("", pw); ok || err != nil {
			t.Errorf("Check(\"\", %q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	if ok, err := p.Check("not-a-bcrypt-hash", "correct-horse"); ok || err == nil {
		t.Errorf("Check(malformed hash) = %v, %v; want false and an error", ok, err)
	}
}

func TestNewPasswords_Cost(t *testing.T) {
	for _, bad := range []int{-1, bcrypt.MinCost - 1, bcrypt.MaxCost + 1} {
		if _, err := NewPasswords(bad); err == nil {
			t.Errorf("NewPasswords(%d) accepted an out-of-range cost", bad)
		}
	}
	if testing.Short() {
		t.Skip("default cost hashing skipped in -short mode")
	}
	p, err := NewPasswords(0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.Hash("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost([]byte(h)); cost != bcrypt.DefaultCost {
		t.Errorf("NewPasswords(0) hashes at cost %d, want the default %d", cost, bcrypt.DefaultCost)
	}
}

// A check against a missing account really runs bcrypt, at the same cost:
// a failed login must not reveal whether the email exists by its timing.
func TestPasswords_CheckWithoutAccountTakesAsLong(t *testing.T) {
	const cost = 10
	p, err := NewPasswords(cost)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.Hash("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	timeIt := func(hash string) time.Duration {
		start := time.Now()
		if ok, err := p.Check(hash, "wrong-password"); ok || err != nil {
			t.Fatalf("Check(%q) = %v, %v", hash, ok, err)
		}
		return time.Since(start)
	}
	const rounds = 5
	real := make([]time.Duration, 0, rounds)
	dummy := make([]time.Duration, 0, rounds)
	// Interleaved, so a slow patch of the machine hits both alike.
	for i := 0; i < rounds; i++ {
		real = append(real, timeIt(h))
		dummy = append(dummy, timeIt(""))
	}
	slices.Sort(real)
	slices.Sort(dummy)
	realMed, dummyMed := real[rounds/2], dummy[rounds/2]
	t.Logf("median check at cost %d: real hash %v, no account %v", cost, realMed, dummyMed)
	if dummyMed < realMed/4 {
		t.Errorf("check without an account took %v (median), under a quarter of a real check's %v: bcrypt was skipped", dummyMed, realMed)
	}
	if dummyMed > realMed*4 {
		t.Errorf("check without an account took %v (median), over 4x a real check's %v: the dummy hash's cost differs", dummyMed, realMed)
	}
}
