package e2e

// In-meeting chat: sendMessage, deleteMessage and Room.messages over
// GraphQL, the legacy GET /rooms/:id/messages, and MESSAGE_SENT /
// MESSAGE_DELETED live across instances, also with many senders at once.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

const sendMessageMutation = `mutation($room: ID!, $content: String!) { sendMessage(roomId: $room, content: $content) {
	id roomId participantId senderName content type createdAt deletedAt participant { id displayName } } }`

type chatMessage struct {
	ID            string  `json:"id"`
	RoomID        string  `json:"roomId"`
	ParticipantID *string `json:"participantId"`
	SenderName    *string `json:"senderName"`
	Content       *string `json:"content"`
	Type          string  `json:"type"`
	CreatedAt     string  `json:"createdAt"`
	DeletedAt     *string `json:"deletedAt"`
	Participant   *struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
	} `json:"participant"`
}

func sendMessage(t testing.TB, c *harness.Client, roomID, content string) chatMessage {
	t.Helper()
	res := c.GQL(sendMessageMutation, map[string]any{"room": roomID, "content": content})
	harness.MustSucceed(t, "send "+content, res)
	var data struct{ SendMessage chatMessage }
	res.Decode(t, &data)
	return data.SendMessage
}

func TestChat_GraphQLAndREST(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostUser, annUser := srv.Register("host@example.com", "Hosting Hana"), srv.Register("ann@example.com", "Ann")
		host, ann := srv.WithToken(hostUser.Token), srv.WithToken(annUser.Token)
		stranger := srv.WithToken(srv.Register("eve@example.com", "Eve").Token)
		room := host.CreateRoom(map[string]any{"name": "Standup"})
		annIn, res := ann.Join(room.Code, nil)
		harness.MustSucceed(t, "ann joins", res)
		guestIn, res := srv.Join(room.Code, new("Gus"))
		harness.MustSucceed(t, "guest joins", res)
		guest := srv.WithToken(guestIn.Token)

		m1 := sendMessage(t, ann, room.ID, "  hello everyone ")
		if deref(m1.Content) != "hello everyone" || deref(m1.SenderName) != "Ann" || m1.Type != "TEXT" ||
			deref(m1.ParticipantID) != annIn.ParticipantID || m1.Participant == nil || m1.Participant.DisplayName != "Ann" || m1.DeletedAt != nil {
			t.Fatalf("ann's message %+v", m1)
		}
		m2 := sendMessage(t, guest, room.ID, "hi\nfrom a guest")
		m3 := sendMessage(t, host, room.ID, "welcome")
		if m3.ParticipantID != nil || m3.Participant != nil || deref(m3.SenderName) != "Hosting Hana" {
			t.Fatalf("host's message %+v", m3)
		}

		before := snapshot(t, srv, hostUser.Token)
		expectError(t, "an empty message", ann.GQL(sendMessageMutation, map[string]any{"room": room.ID, "content": " \n "}), "BAD_USER_INPUT", "content")
		expectError(t, "an escape sequence", ann.GQL(sendMessageMutation, map[string]any{"room": room.ID, "content": "\x1b[31mred"}), "BAD_USER_INPUT", "content")
		expectError(t, "2,001 characters", ann.GQL(sendMessageMutation, map[string]any{"room": room.ID, "content": strings.Repeat("a", 2001)}), "BAD_USER_INPUT", "content")
		if e := expectError(t, "a stranger", stranger.GQL(sendMessageMutation, map[string]any{"room": room.ID, "content": "hi"}), "FORBIDDEN", ""); e.Extensions["reason"] != "NOT_IN_ROOM" {
			t.Fatalf("stranger: %v", e.Extensions)
		}
		expectUnchanged(t, srv, "refused messages", before, hostUser.Token)

		harness.MustSucceed(t, "chat off", host.UpdateSettings(room.ID, map[string]any{"allowChat": false}))
		if e := expectError(t, "chat off", ann.GQL(sendMessageMutation, map[string]any{"room": room.ID, "content": "hi"}), "FORBIDDEN", ""); e.Extensions["reason"] != "CHAT_DISABLED" {
			t.Fatalf("chat off: %v", e.Extensions)
		}
		sendMessage(t, host, room.ID, "the host may still post")
		harness.MustSucceed(t, "chat on", host.UpdateSettings(room.ID, map[string]any{"allowChat": true}))

		// Deletion: not by someone else; by its sender; the host moderates.
		del := `mutation($id: ID!) { deleteMessage(messageId: $id) { id content deletedAt senderName } }`
		if e := expectError(t, "ann deletes the guest's", ann.GQL(del, map[string]any{"id": m2.ID}), "FORBIDDEN", ""); e.Extensions["reason"] != "NOT_SENDER" {
			t.Fatalf("%v", e.Extensions)
		}
		var deleted struct{ DeleteMessage chatMessage }
		res = ann.GQL(del, map[string]any{"id": m1.ID})
		harness.MustSucceed(t, "ann deletes hers", res)
		res.Decode(t, &deleted)
		if deleted.DeleteMessage.Content != nil || deleted.DeleteMessage.DeletedAt == nil || deref(deleted.DeleteMessage.SenderName) != "Ann" {
			t.Fatalf("deleted %+v", deleted.DeleteMessage)
		}
		harness.MustSucceed(t, "the host deletes the guest's", host.GQL(del, map[string]any{"id": m2.ID}))

		// The chat, newest first, paged back by keyset, read by a participant.
		read := `query($id: ID!, $first: Int, $before: ID) { room(id: $id) { messages(first: $first, before: $before) { id type content } } }`
		var ids []string
		var types []string
		var cursor any
		for {
			var page struct {
				Room struct {
					Messages []struct{ ID, Type string }
				}
			}
			res := ann.GQL(read, map[string]any{"id": room.ID, "first": 2, "before": cursor})
			harness.MustSucceed(t, "read the chat", res)
			res.Decode(t, &page)
			if len(page.Room.Messages) == 0 {
				break
			}
			for _, m := range page.Room.Messages {
				ids, types = append(ids, m.ID), append(types, m.Type)
			}
			cursor = ids[len(ids)-1]
		}
		// m1, m2, m3 and the host's while chat was off (allowChat writes no SYSTEM message).
		if len(ids) != 4 || ids[3] != m1.ID || ids[2] != m2.ID || ids[1] != m3.ID {
			t.Fatalf("paged %v (%v), want the four messages newest first", ids, types)
		}
		expectError(t, "a cursor of no message", ann.GQL(read, map[string]any{"id": room.ID, "first": 2, "before": "nope"}), "BAD_USER_INPUT", "before")
		if res := stranger.GQL(read, map[string]any{"id": room.ID}); res.Code() != "NOT_FOUND" {
			t.Fatalf("a stranger read the chat: %s", res.Data)
		}

		// The legacy route: oldest first, the legacy shape, bare and under /api.
		for _, prefix := range []string{"", "/api"} {
			res := ann.REST(http.MethodGet, prefix+"/rooms/"+room.ID+"/messages", nil)
			if res.Status != http.StatusOK {
				t.Fatalf("%s: %d %s", prefix, res.Status, res.Body)
			}
			expectJSONContentType(t, "messages", res)
			var list []json.RawMessage
			if err := json.Unmarshal(res.Body, &list); err != nil || len(list) != 4 {
				t.Fatalf("%s: %s", prefix, res.Body)
			}
			first := harness.ParseObject(t, list[0])
			expectKeys(t, "message", first, "id", "roomId", "userId", "senderName", "content", "type", "createdAt", "user")
			if first.Str(t, "id") != m1.ID || string(first.Vals["content"]) != "null" || first.Str(t, "type") != "TEXT" {
				t.Fatalf("oldest message %s", list[0])
			}
			user := harness.ParseObject(t, first.Vals["user"])
			expectKeys(t, "user", user, "id", "displayName", "avatarUrl")
			if guestMsg := harness.ParseObject(t, list[1]); string(guestMsg.Vals["user"]) != "null" || string(guestMsg.Vals["userId"]) != "null" {
				t.Fatalf("the guest's message %s", list[1])
			}
			if res := guest.REST(http.MethodGet, prefix+"/rooms/"+room.ID+"/messages", nil); res.Status != http.StatusOK {
				t.Fatalf("the guest reads: %d", res.Status)
			}
			for what, c := range map[string]*harness.Client{"an unknown room": ann, "someone else's room": stranger} {
				id := room.ID
				if what == "an unknown room" {
					id = "no-such-room"
				}
				if res := c.REST(http.MethodGet, prefix+"/rooms/"+id+"/messages", nil); res.Status != http.StatusOK || string(res.Body) != "[]" {
					t.Fatalf("%s: %d %s", what, res.Status, res.Body)
				}
			}
			expectUnauthorized(t, "no token", srv.REST(http.MethodGet, prefix+"/rooms/"+room.ID+"/messages", nil))
		}
		// SYSTEM messages: the end writes one.
		harness.MustSucceed(t, "end", host.EndRoom(room.ID))
		res2 := host.REST(http.MethodGet, "/rooms/"+room.ID+"/messages", nil)
		var all []struct {
			Type       string
			Content    *string
			SenderName *string
		}
		if err := json.Unmarshal(res2.Body, &all); err != nil || len(all) != 5 || all[4].Type != "SYSTEM" || all[4].SenderName != nil {
			t.Fatalf("after the end: %s", res2.Body)
		}
		if e := expectError(t, "posting after the end", host.GQL(sendMessageMutation, map[string]any{"room": room.ID, "content": "hi"}), "CONFLICT", ""); e.Extensions["reason"] != "ROOM_ENDED" {
			t.Fatalf("%v", e.Extensions)
		}
		expectError(t, "ann after the end", ann.GQL(sendMessageMutation, map[string]any{"room": room.ID, "content": "hi"}), "FORBIDDEN", "")
	})
}

func TestChat_APIRootAnswersServerRunning(t *testing.T) {
	srv := harness.Start(t)
	res := srv.REST(http.MethodGet, "/api", nil)
	if res.Status != http.StatusOK || string(res.Body) != "server running" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /api: %d %q %s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
}

// Room.messages under me.rooms costs the same statements for 1 room or 6.
func TestChat_MessagesStatementsConstantInRooms(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostUser := srv.Register("host@example.com", "Hosting Hana")
		host := srv.WithToken(hostUser.Token)
		q := `{ me { rooms { id messages(first: 5) { id content senderName participant { id displayName user { displayName } } } } } }`
		counts := map[int]int64{}
		for n := 1; n <= 6; n++ {
			room := host.CreateRoom(map[string]any{})
			guestIn, res := srv.Join(room.Code, new(fmt.Sprintf("G%d", n)))
			harness.MustSucceed(t, "join", res)
			sendMessage(t, srv.WithToken(guestIn.Token), room.ID, "hello")
			sendMessage(t, host, room.ID, "hi")
			if n == 1 || n == 6 {
				counts[n] = srv.StatementsDuring(func() { harness.MustSucceed(t, "read", host.GQL(q, nil)) })
			}
		}
		if counts[1] != counts[6] {
			t.Fatalf("statements for 1 room: %d, for 6: %d", counts[1], counts[6])
		}
	})
}

const chatEventsQuery = `subscription($room: ID!) { roomEvents(roomId: $room) {
	type message { id content senderName deletedAt participant { displayName } } } }`

type chatEvent struct {
	RoomEvents struct {
		Type    string
		Message *struct {
			ID          string
			Content     *string
			SenderName  *string
			DeletedAt   *string
			Participant *struct{ DisplayName string }
		}
	}
}

func nextChatEvent(t *testing.T, op *harness.Operation) chatEvent {
	t.Helper()
	for {
		m, ok := op.Next(5 * time.Second)
		if !ok || m.Type != "next" {
			t.Fatalf("got %q %s, want an event", m.Type, m.Payload)
		}
		var ev chatEvent
		m.Result().Decode(t, &ev)
		if ev.RoomEvents.Type != "PARTICIPANT_JOINED" { // a join just before subscribing may still arrive
			return ev
		}
	}
}

// A message sent on instance A reaches subscribers on instance B, a long
// one (more than a NOTIFY holds) whole; its deletion follows it.
func TestChat_LiveAcrossInstances(t *testing.T) {
	a, b, _ := harness.TwoInstances(t)
	hostUser := a.Register("host@example.com", "Hosting Hana")
	host := a.WithToken(hostUser.Token)
	room := host.CreateRoom(map[string]any{})
	guestIn, res := a.Join(room.Code, new("Gus"))
	harness.MustSucceed(t, "join", res)
	guest := a.WithToken(guestIn.Token)

	hostSub := harness.DialWS(t, b.URL, hostUser.Token).Subscribe(chatEventsQuery, map[string]any{"room": room.ID})
	guestSub := harness.DialWS(t, b.URL, guestIn.Token).Subscribe(chatEventsQuery, map[string]any{"room": room.ID})
	b.WaitSubscribers(2)

	long := strings.Repeat("😀", 2000)
	sent := sendMessage(t, guest, room.ID, "hello from A")
	big := sendMessage(t, host, room.ID, long)
	harness.MustSucceed(t, "delete", guest.GQL(`mutation($id: ID!) { deleteMessage(messageId: $id) { id } }`, map[string]any{"id": sent.ID}))
	for _, op := range []*harness.Operation{hostSub, guestSub} {
		e := nextChatEvent(t, op)
		if e.RoomEvents.Type != "MESSAGE_SENT" || e.RoomEvents.Message == nil || e.RoomEvents.Message.ID != sent.ID ||
			deref(e.RoomEvents.Message.Content) != "hello from A" || e.RoomEvents.Message.Participant == nil ||
			e.RoomEvents.Message.Participant.DisplayName != "Gus" {
			t.Fatalf("first event %+v", e)
		}
		if e := nextChatEvent(t, op); e.RoomEvents.Type != "MESSAGE_SENT" || e.RoomEvents.Message.ID != big.ID || deref(e.RoomEvents.Message.Content) != long {
			t.Fatalf("the long message arrived as %s", e.RoomEvents.Type)
		}
		if e := nextChatEvent(t, op); e.RoomEvents.Type != "MESSAGE_DELETED" || e.RoomEvents.Message.ID != sent.ID ||
			e.RoomEvents.Message.Content != nil || e.RoomEvents.Message.DeletedAt == nil {
			t.Fatalf("deletion event %+v", e)
		}
	}
}

// Many guests post at once through two instances: every message is stored
// once, and subscribers on both instances hear every one, once, in one
// order.
func TestChat_ConcurrentSendersOneOrderEverywhere(t *testing.T) {
	a, b, admin := harness.TwoInstances(t)
	hostUser := a.Register("host@example.com", "Hosting Hana")
	room := a.WithToken(hostUser.Token).CreateRoom(map[string]any{})
	const senders, each = 12, 4
	var tokens []string
	for i := range senders {
		in, res := a.Join(room.Code, new(fmt.Sprintf("G%d", i)))
		harness.MustSucceed(t, "join", res)
		tokens = append(tokens, in.Token)
	}
	subs := []*harness.Operation{
		harness.DialWS(t, a.URL, hostUser.Token).Subscribe(chatEventsQuery, map[string]any{"room": room.ID}),
		harness.DialWS(t, b.URL, tokens[0]).Subscribe(chatEventsQuery, map[string]any{"room": room.ID}),
		harness.DialWS(t, b.URL, hostUser.Token).Subscribe(chatEventsQuery, map[string]any{"room": room.ID}),
	}
	a.WaitSubscribers(1)
	b.WaitSubscribers(2)
	var wg sync.WaitGroup
	for i, token := range tokens {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		c := srv.WithToken(token)
		wg.Go(func() {
			for j := range each {
				res := c.GQL(sendMessageMutation, map[string]any{"room": room.ID, "content": fmt.Sprintf("%d-%d", i, j)})
				if len(res.Errors) > 0 {
					t.Errorf("send: %v", res.Errors)
				}
			}
		})
	}
	wg.Wait()
	if n := harness.CountRows(t, admin, "messages"); n != senders*each {
		t.Fatalf("%d messages stored, want %d", n, senders*each)
	}
	var orders []string
	for _, op := range subs {
		var order []string
		seen := map[string]bool{}
		for range senders * each {
			e := nextChatEvent(t, op)
			if e.RoomEvents.Type != "MESSAGE_SENT" {
				t.Fatalf("got %s", e.RoomEvents.Type)
			}
			c := deref(e.RoomEvents.Message.Content)
			if seen[c] {
				t.Fatalf("%s heard twice", c)
			}
			seen[c] = true
			order = append(order, c)
		}
		orders = append(orders, strings.Join(order, ","))
	}
	for i := range orders[1:] {
		if orders[i+1] != orders[0] {
			t.Fatalf("subscriber %d heard another order:\n%s\n%s", i+1, orders[i+1], orders[0])
		}
	}
}
