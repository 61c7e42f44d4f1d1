package e2e

// Zero-config development: `make seed` and `make run` with nothing set,
// as the README's first screen tells a newcomer to run them.

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/neuronmeet/api/test/harness"
)

// The token seed prints works against the server with no JWT_SECRET set
// (both keep the development secret beside the SQLite file), and still
// works after the server restarts. The server says where the secret is
// and never logs it.
func TestDevSetup_SeedTokenWorksAgainstTheServerAndAfterARestart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SQLITE_PATH": filepath.Join(dir, "neuronmeet.db"), "JWT_SECRET": ""}
	out := harness.Command(t, env, "seed")
	m := regexp.MustCompile(`(?m)^Authorization: Bearer (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("seed printed no bearer token:\n%s", out)
	}
	token := m[1]
	secretFile := filepath.Join(dir, "jwt-secret")
	secret, err := os.ReadFile(secretFile)
	if err != nil {
		t.Fatalf("seed kept no development secret: %v", err)
	}
	secret = []byte(strings.TrimSpace(string(secret)))
	if strings.Contains(out, string(secret)) {
		t.Error("seed printed the secret")
	}

	for _, start := range []string{"first start", "restart"} {
		srv := harness.Start(t, harness.RealProcess(), harness.CaptureLogs(), harness.WithEnv(env))
		res := srv.WithToken(token).GQL(`{ me { rooms { name } } }`, nil)
		harness.MustSucceed(t, start+": me.rooms with seed's token", res)
		var data struct {
			Me struct{ Rooms []struct{ Name string } }
		}
		res.Decode(t, &data)
		var names []string
		for _, r := range data.Me.Rooms {
			names = append(names, r.Name)
		}
		if want := seededRooms(t, out); len(names) != want || names[0] != "Office Hours" {
			t.Errorf("%s: rooms %v, want the %d seed made, newest Office Hours", start, names, want)
		}
		logs := srv.Logs.String()
		if strings.Contains(logs, string(secret)) {
			t.Errorf("%s: the server logged the secret", start)
		}
		said := slices.ContainsFunc(srv.Logs.Records(t), func(r map[string]any) bool {
			return r["level"] == "WARN" && r["secret_file"] == secretFile
		})
		if !said {
			t.Errorf("%s: no warning naming %s in:\n%s", start, secretFile, logs)
		}
		if err := srv.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-srv.Exited():
			if err != nil {
				t.Fatalf("%s: the server exited with %v", start, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the server did not exit within 30s of SIGTERM", start)
		}
	}
}

// seededRooms is how many rooms seed says it made for its demo host (the
// weekdays of the last four weeks decide a few).
func seededRooms(t *testing.T, out string) int {
	t.Helper()
	m := regexp.MustCompile(`with (\d+) rooms over`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("seed did not say how many rooms it made:\n%s", out)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The seed writes a history a dashboard can show at once: weeks of
// meetings in the usage, rejoins and guests in the statistics, rooms
// running now among ended ones, a booked room not started, rooms the host
// attended; run again, it adds nothing and its token still works.
func TestDevSetup_SeedWritesAHistoryTheDashboardShows(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SQLITE_PATH": filepath.Join(dir, "neuronmeet.db"), "JWT_SECRET": ""}
	began := time.Now()
	first := harness.Command(t, env, "seed")
	t.Logf("seed took %s", time.Since(began))
	again := harness.Command(t, env, "seed")
	if !strings.Contains(again, "Demo data already present.") {
		t.Fatalf("a second seed did not say its data was there:\n%s", again)
	}
	token := regexp.MustCompile(`(?m)^Authorization: Bearer (\S+)$`).FindStringSubmatch(again)[1]

	srv := harness.Start(t, harness.RealProcess(), harness.WithEnv(env))
	now := time.Now()
	res := srv.WithToken(token).GQL(`query($from: Time!, $to: Time!) { me {
		rooms { name isActive startedAt stats { activeParticipants uniqueParticipants totalJoins peakParticipants participantSeconds }
			participants { guestName } }
		attended(first: 20) { totalCount nodes { isActive } }
		usage(from: $from, to: $to) { participantSeconds peakParticipants uniqueParticipants sessions }
	} }`, map[string]any{"from": now.AddDate(0, 0, -28).Format(time.RFC3339), "to": now.Format(time.RFC3339)})
	harness.MustSucceed(t, "the dashboard with seed's token", res)
	var data struct {
		Me struct {
			Rooms []struct {
				Name         string
				IsActive     bool
				StartedAt    *string
				Stats        struct{ ActiveParticipants, UniqueParticipants, TotalJoins, PeakParticipants, ParticipantSeconds int }
				Participants []struct{ GuestName *string }
			}
			Attended struct {
				TotalCount int
				Nodes      []struct{ IsActive bool }
			}
			Usage []struct{ ParticipantSeconds, PeakParticipants, UniqueParticipants, Sessions int }
		}
	}
	res.Decode(t, &data)
	me := data.Me
	if want := seededRooms(t, first); len(me.Rooms) != want || want < 35 {
		t.Fatalf("%d rooms after two seeds, want the %d the first made (weeks of them)", len(me.Rooms), want)
	}
	var running, ended, booked, rejoined, withGuests int
	for _, r := range me.Rooms {
		switch {
		case r.StartedAt == nil:
			booked++
		case r.IsActive && r.Stats.ActiveParticipants > 0:
			running++
		case !r.IsActive && r.Stats.ParticipantSeconds > 0:
			ended++
		}
		if r.Stats.TotalJoins > r.Stats.UniqueParticipants {
			rejoined++
		}
		if slices.ContainsFunc(r.Participants, func(p struct{ GuestName *string }) bool { return p.GuestName != nil }) {
			withGuests++
		}
	}
	if running < 1 || ended < 30 || booked != 1 || rejoined < 5 || withGuests < 5 {
		t.Errorf("rooms: %d running, %d ended with presence, %d not started, %d with rejoins, %d with guests", running, ended, booked, rejoined, withGuests)
	}
	if me.Attended.TotalCount < 4 || !slices.ContainsFunc(me.Attended.Nodes, func(n struct{ IsActive bool }) bool { return n.IsActive }) {
		t.Errorf("attended: %+v, want a teammate's rooms, one still running", me.Attended)
	}
	busy, peak := 0, 0
	for _, u := range me.Usage {
		if u.ParticipantSeconds > 0 && u.Sessions > 0 {
			busy++
		}
		peak = max(peak, u.PeakParticipants)
	}
	if len(me.Usage) < 28 || busy < 18 || peak < 5 {
		t.Errorf("usage: %d days, %d with meetings, peak %d; want weeks of working days and a day with 5 at once", len(me.Usage), busy, peak)
	}
}
