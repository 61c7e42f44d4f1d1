package service_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/internal/service"
)

func TestRegister_RejectsInvalidInputAndCreatesNothing(t *testing.T) {
	t.Parallel()
	valid := service.RegisterInput{Email: "new@example.com", Password: "password1", DisplayName: "Newcomer"}
	with := func(f func(in *service.RegisterInput)) service.RegisterInput {
		in := valid
		f(&in)
		return in
	}
	cases := []struct {
		name  string
		in    service.RegisterInput
		field string
	}{
		{"email not an address", with(func(in *service.RegisterInput) { in.Email = "not-an-email" }), "email"},
		{"email empty", with(func(in *service.RegisterInput) { in.Email = "" }), "email"},
		{"email only spaces", with(func(in *service.RegisterInput) { in.Email = "   " }), "email"},
		{"email with display name", with(func(in *service.RegisterInput) { in.Email = "A <a@b.co>" }), "email"},
		{"email in angle brackets", with(func(in *service.RegisterInput) { in.Email = "<a@b.co>" }), "email"},
		{"email without domain dot", with(func(in *service.RegisterInput) { in.Email = "a@localhost" }), "email"},
		{"email with two addresses", with(func(in *service.RegisterInput) { in.Email = "a@b.co, c@d.co" }), "email"},
		{"email with a NUL byte", with(func(in *service.RegisterInput) { in.Email = "a\x00b@example.com" }), "email"},
		{"email 321 bytes", with(func(in *service.RegisterInput) {
			in.Email = strings.Repeat("e", 64) + "@" + strings.Repeat("d", 252) + ".com"
		}), "email"},
		{"password with a NUL byte", with(func(in *service.RegisterInput) { in.Password = "password\x00" }), "password"},
		{"displayName with a NUL byte", with(func(in *service.RegisterInput) { in.DisplayName = "Al\x00ce" }), "displayName"},
		{"displayName not UTF-8", with(func(in *service.RegisterInput) { in.DisplayName = "\xff\xfe\xfd" }), "displayName"},
		{"password empty", with(func(in *service.RegisterInput) { in.Password = "" }), "password"},
		{"password 7 bytes", with(func(in *service.RegisterInput) { in.Password = strings.Repeat("p", 7) }), "password"},
		{"password 73 bytes", with(func(in *service.RegisterInput) { in.Password = strings.Repeat("p", 73) }), "password"},
		{"password counted in bytes: 3 two-byte runes", with(func(in *service.RegisterInput) { in.Password = "ééé" }), "password"},
		{"displayName empty", with(func(in *service.RegisterInput) { in.DisplayName = "" }), "displayName"},
		{"displayName 1 char", with(func(in *service.RegisterInput) { in.DisplayName = "A" }), "displayName"},
		{"displayName 1 char after trimming", with(func(in *service.RegisterInput) { in.DisplayName = "   A   " }), "displayName"},
		{"displayName only spaces", with(func(in *service.RegisterInput) { in.DisplayName = "     " }), "displayName"},
		{"displayName 51 chars", with(func(in *service.RegisterInput) { in.DisplayName = strings.Repeat("n", 51) }), "displayName"},
		{"displayName 51 multi-byte chars", with(func(in *service.RegisterInput) { in.DisplayName = strings.Repeat("é", 51) }), "displayName"},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		e.user(t, "Existing") // the table is not empty: a stray write would show
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					res, err := e.svc.Register(anon(), c.in)
					if res != nil {
						t.Errorf("got a result with the error: %+v", res)
					}
					wantInvalid(t, err, c.field)
				})
			})
		}
	})
}

func TestRegister_AcceptsBoundaryValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name            string
		in              service.RegisterInput
		wantDisplayName string
	}{
		{"password 8 bytes", service.RegisterInput{Email: "p8@example.com", Password: strings.Repeat("p", 8), DisplayName: "Pat"}, "Pat"},
		{"password counted in bytes: 4 two-byte runes", service.RegisterInput{Email: "p4r@example.com", Password: "éééé", DisplayName: "Pat"}, "Pat"},
		{"password 72 bytes", service.RegisterInput{Email: "p72@example.com", Password: strings.Repeat("p", 72), DisplayName: "Pat"}, "Pat"},
		{"displayName 2 chars", service.RegisterInput{Email: "d2@example.com", Password: "password1", DisplayName: "Al"}, "Al"},
		{"displayName 50 chars", service.RegisterInput{Email: "d50@example.com", Password: "password1", DisplayName: strings.Repeat("n", 50)}, strings.Repeat("n", 50)},
		{"displayName 50 multi-byte chars", service.RegisterInput{Email: "d50mb@example.com", Password: "password1", DisplayName: strings.Repeat("é", 50)}, strings.Repeat("é", 50)},
		{"email of 320 bytes", service.RegisterInput{Email: strings.Repeat("e", 64) + "@" + strings.Repeat("d", 251) + ".com", Password: "password1", DisplayName: "Pat"}, "Pat"},
		{"displayName trimmed", service.RegisterInput{Email: "trim@example.com", Password: "password1", DisplayName: "  Al  "}, "Al"},
		{"displayName with inner spaces", service.RegisterInput{Email: "inner@example.com", Password: "password1", DisplayName: " Ada  Lovelace "}, "Ada  Lovelace"},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				res, err := e.svc.Register(anon(), c.in)
				mustNoErr(t, err)
				if res.User.DisplayName != c.wantDisplayName {
					t.Errorf("returned displayName %q, want %q", res.User.DisplayName, c.wantDisplayName)
				}
				stored, ok := e.loadUserByEmail(t, c.in.Email)
				if !ok {
					t.Fatalf("no user stored for %s", c.in.Email)
				}
				if stored.ID != res.User.ID || stored.DisplayName != c.wantDisplayName {
					t.Errorf("stored %+v, want id %s displayName %q", stored, res.User.ID, c.wantDisplayName)
				}
				if stored.PasswordHash == "" || stored.PasswordHash == c.in.Password {
					t.Errorf("password stored as %q, want a hash", stored.PasswordHash)
				}
				// The password that was accepted signs in.
				_, err = e.svc.Login(anon(), service.LoginInput{Email: c.in.Email, Password: c.in.Password})
				mustNoErr(t, err)
			})
		}
	})
}

// Three mistakes in one form are reported together: one BAD_USER_INPUT
// error whose All lists each field.
func TestRegister_ReportsEveryInvalidFieldAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		e.unchanged(t, func() {
			_, err := e.svc.Register(anon(), service.RegisterInput{Email: "nope", Password: "short", DisplayName: "x"})
			ae := wantInvalid(t, err, "email")
			var fields []string
			for _, x := range ae.All {
				if x.Code != apperr.BadUserInput || x.Message == "" {
					t.Errorf("entry %+v is not a complete input error", x)
				}
				fields = append(fields, x.Field)
			}
			if strings.Join(fields, ",") != "email,password,displayName" {
				t.Fatalf("All names fields %v, want email, password, displayName", fields)
			}
			if got := ae.Messages(); len(got) != 3 {
				t.Fatalf("Messages() = %q, want three", got)
			}
		})
		// Two mistakes: two entries.
		_, err := e.svc.Register(anon(), service.RegisterInput{Email: "ok@example.com", Password: "short", DisplayName: "x"})
		ae := wantInvalid(t, err, "password")
		if len(ae.All) != 2 || ae.All[0].Field != "password" || ae.All[1].Field != "displayName" {
			t.Fatalf("All = %+v, want password and displayName", ae.All)
		}
		// One mistake: no list needed.
		_, err = e.svc.Register(anon(), service.RegisterInput{Email: "ok@example.com", Password: "password1", DisplayName: "x"})
		ae = wantInvalid(t, err, "displayName")
		if len(ae.All) > 1 {
			t.Fatalf("a single mistake lists %d errors", len(ae.All))
		}
	})
}

func TestRegister_TrimsAndLowerCasesEmail(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		res, err := e.svc.Register(anon(), service.RegisterInput{Email: "  Alice.Smith@Example.COM \t", Password: "password1", DisplayName: "Alice"})
		mustNoErr(t, err)
		if res.User.Email != "alice.smith@example.com" {
			t.Fatalf("returned email %q, want alice.smith@example.com", res.User.Email)
		}
		if _, ok := e.loadUserByEmail(t, "alice.smith@example.com"); !ok {
			t.Fatal("email not stored normalized")
		}
		// The access token is a user token for the new account.
		uid, err := e.tokens.ParseUser(res.AccessToken)
		mustNoErr(t, err)
		if uid != res.User.ID {
			t.Fatalf("token subject %q, want %q", uid, res.User.ID)
		}
		// Signing in works whatever the case and spacing.
		got, err := e.svc.Login(anon(), service.LoginInput{Email: " ALICE.smith@example.com ", Password: "password1"})
		mustNoErr(t, err)
		if got.User.ID != res.User.ID {
			t.Fatalf("login found user %s, want %s", got.User.ID, res.User.ID)
		}
		uid, err = e.tokens.ParseUser(got.AccessToken)
		mustNoErr(t, err)
		if uid != res.User.ID {
			t.Fatalf("login token subject %q, want %q", uid, res.User.ID)
		}
	})
}

func TestRegister_DuplicateEmailInAnyCaseIsAConflict(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		_, err := e.svc.Register(anon(), service.RegisterInput{Email: "bob@example.com", Password: "password1", DisplayName: "Bob"})
		mustNoErr(t, err)
		for _, email := range []string{"bob@example.com", "BOB@Example.com", "  bob@EXAMPLE.COM  "} {
			t.Run(email, func(t *testing.T) {
				e.unchanged(t, func() {
					_, err := e.svc.Register(anon(), service.RegisterInput{Email: email, Password: "another-password", DisplayName: "Bobby"})
					wantErr(t, err, apperr.Conflict, "EMAIL_TAKEN")
				})
			})
		}
		// The original password still signs in; the intruder's does not.
		_, err = e.svc.Login(anon(), service.LoginInput{Email: "bob@example.com", Password: "password1"})
		mustNoErr(t, err)
		_, err = e.svc.Login(anon(), service.LoginInput{Email: "bob@example.com", Password: "another-password"})
		if err != service.ErrInvalidCredentials {
			t.Fatalf("login with the duplicate's password: %v", err)
		}
	})
}

// A failed login says only "invalid credentials", whether the password was
// wrong or the account does not exist.
func TestLogin_FailureNeverRevealsWhetherTheEmailExists(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		pw72 := strings.Repeat("k", 72)
		_, err := e.svc.Register(anon(), service.RegisterInput{Email: "carol@example.com", Password: "password1", DisplayName: "Carol"})
		mustNoErr(t, err)
		_, err = e.svc.Register(anon(), service.RegisterInput{Email: "long@example.com", Password: pw72, DisplayName: "Long"})
		mustNoErr(t, err)
		cases := map[string]service.LoginInput{
			"wrong password":             {Email: "carol@example.com", Password: "password2"},
			"password differing in case": {Email: "carol@example.com", Password: "PASSWORD1"},
			"unknown email":              {Email: "nobody@example.com", Password: "password1"},
			// bcrypt would ignore the 73rd byte; login must not.
			"password with a byte appended past 72": {Email: "long@example.com", Password: pw72 + "x"},
		}
		for name, in := range cases {
			t.Run(name, func(t *testing.T) {
				e.unchanged(t, func() {
					res, err := e.svc.Login(anon(), in)
					if res != nil {
						t.Errorf("failed login returned %+v", res)
					}
					if err != service.ErrInvalidCredentials || !errors.Is(err, service.ErrInvalidCredentials) {
						t.Fatalf("got %v, want exactly service.ErrInvalidCredentials", err)
					}
					ae := wantErr(t, err, apperr.Unauthenticated, "")
					if ae.Message != "invalid credentials" || err.Error() != "invalid credentials" {
						t.Fatalf("message %q, want %q", ae.Message, "invalid credentials")
					}
				})
			})
		}
		_, err = e.svc.Login(anon(), service.LoginInput{Email: "long@example.com", Password: pw72})
		mustNoErr(t, err)
	})
}

func TestLogin_RejectsMalformedInput(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		e.user(t, "Dave")
		cases := []struct {
			name  string
			in    service.LoginInput
			field string
		}{
			{"empty email", service.LoginInput{Email: "", Password: "password1"}, "email"},
			{"not an email", service.LoginInput{Email: "dave", Password: "password1"}, "email"},
			{"empty password", service.LoginInput{Email: "dave@example.com", Password: ""}, "password"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := e.svc.Login(anon(), c.in)
				wantInvalid(t, err, c.field)
			})
		}
	})
}

// With the default limits, a stranger's wrong passwords from one address
// stop that address, even with the right password, while the owner still
// signs in from theirs.
func TestLogin_WrongPasswordsLockTheirAddressNotTheOwner(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb, withLimits(ratelimit.Defaults()))
		u := e.user(t, "Ada")
		attacker, owner := from(anon(), "198.51.100.66"), from(anon(), "203.0.113.10")
		for i := 0; i < 10; i++ {
			_, err := e.svc.Login(attacker, service.LoginInput{Email: u.Email, Password: "wrong password"})
			wantErr(t, err, apperr.Unauthenticated, apperr.InvalidCredentials)
		}
		_, err := e.svc.Login(attacker, service.LoginInput{Email: u.Email, Password: "correct horse"})
		wantErr(t, err, apperr.TooManyRequests, "")
		for i := 0; i < 12; i++ { // correct passwords spend nothing
			res, err := e.svc.Login(owner, service.LoginInput{Email: u.Email, Password: "correct horse"})
			mustNoErr(t, err)
			if res.User.ID != u.ID {
				t.Fatalf("signed in as %s, want %s", res.User.ID, u.ID)
			}
		}
	})
}
