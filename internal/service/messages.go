package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/models"
)

// Chat limits.
const (
	MaxMessageLength       = 2000 // characters (code points), after trimming
	DefaultMessagePageSize = 50
	// LegacyMessageLimit is how many messages GET /rooms/:id/messages
	// answers: the room's oldest, as the legacy backend did.
	LegacyMessageLimit = 100
)

// What the server writes in a room's chat (SYSTEM messages).
const (
	systemRoomLocked   = "The host locked the room"
	systemRoomUnlocked = "The host unlocked the room"
	systemRoomEnded    = "The meeting has ended"
)

var (
	errNotInRoomToChat = apperr.ForbiddenReason(apperr.NotInRoom, "only the room's host and its active participants may post in its chat")
	errChatDisabled    = apperr.ForbiddenReason(apperr.ChatDisabled, "chat is turned off in this room")
	errNotSender       = apperr.ForbiddenReason(apperr.NotSender, "only the message's sender or the room's host may delete it")
	errMessageNotFound = apperr.NotFoundf("message not found")
)

// checkMessageContent returns content as stored (trimmed), or why it is
// refused: empty, over MaxMessageLength characters, or holding a control
// character other than newline and tab (NUL, CR, ESC of terminal
// sequences) that would garble what others see.
func checkMessageContent(content string) (string, error) {
	text := strings.TrimSpace(content)
	if text == "" {
		return "", apperr.Invalid("content", "content must not be empty")
	}
	if !utf8.ValidString(text) {
		return "", apperr.Invalid("content", "content must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(text); n > MaxMessageLength {
		return "", apperr.Invalid("content", fmt.Sprintf("content must be at most %d characters", MaxMessageLength))
	}
	for _, r := range text {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", apperr.Invalid("content", "content must not contain control characters other than newline and tab")
		}
	}
	return text, nil
}

// forShare adds FOR SHARE on PostgreSQL: rows read to decide a write that
// must not change before it commits (SQLite runs one transaction at a
// time anyway).
func (s *Service) forShare(q *bun.SelectQuery) *bun.SelectQuery {
	if s.postgres {
		return q.For("SHARE")
	}
	return q
}

// SendMessage posts content to room roomID's chat as the caller: an active
// participant of the room (a signed-in user by their token, a guest by its
// participant token) or the room's host, present or not. Anyone else is
// FORBIDDEN (NOT_IN_ROOM), whether or not the room exists; an ended room
// is a CONFLICT (ROOM_ENDED) for its host (everyone else has left it);
// with allowChat off only the host may post (CHAT_DISABLED).
//
// The room row is share-locked for the transaction on PostgreSQL, and the
// sender's participant row too: messages never wait for one another, but
// an end, a lock or a leave committing meanwhile waits for the message (or
// the message for it), so no message is stored after its room ended or
// its sender left.
func (s *Service) SendMessage(ctx context.Context, roomID, content string) (*models.Message, error) {
	p, viewer, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	text, err := checkMessageContent(content)
	if err != nil {
		return nil, err
	}
	if !isKey(roomID) || (p.ParticipantID != "" && p.RoomID != roomID) {
		return nil, errNotInRoomToChat
	}
	// Per participant: a guest by its presence; a user by their presence
	// in this room (the same bucket whichever of their tokens they use).
	account := "participant:" + p.ParticipantID
	if viewer != nil {
		account = "user:" + viewer.ID + "\x00" + roomID
	}
	if err := s.limits.Check(ctx, ratelimit.SendMessage, account); err != nil {
		return nil, err
	}
	var msg *models.Message
	err = s.inTxPublishing(ctx, func(ctx context.Context, tx bun.Tx) ([]*events.Event, error) {
		room := new(models.Room)
		err := s.forShare(tx.NewSelect().Model(room).Where("id = ?", roomID)).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errNotInRoomToChat
		}
		if err != nil {
			return nil, fmt.Errorf("load room: %w", err)
		}
		sender, err := s.activeSender(ctx, tx, room.ID, p, viewer)
		if err != nil {
			return nil, err
		}
		isHost := (viewer != nil && viewer.ID == room.HostID) || (sender != nil && sender.IsHost)
		if sender == nil && !isHost {
			return nil, errNotInRoomToChat
		}
		if !room.IsActive {
			return nil, errRoomEnded
		}
		var allowChat bool
		if err := tx.NewSelect().Model((*models.RoomSettings)(nil)).Column("allow_chat").
			Where("room_id = ?", room.ID).Scan(ctx, &allowChat); err != nil {
			return nil, fmt.Errorf("load settings: %w", err)
		}
		if !allowChat && !isHost {
			return nil, errChatDisabled
		}
		name, userID, err := s.senderName(ctx, tx, sender, viewer)
		if err != nil {
			return nil, err
		}
		msg = &models.Message{
			ID: models.NewID(), RoomID: room.ID, UserID: userID, SenderName: &name,
			Content: &text, Type: models.MessageText, CreatedAt: s.now(),
		}
		if sender != nil {
			msg.ParticipantID = &sender.ID
		}
		if _, err := tx.NewInsert().Model(msg).Exec(ctx); err != nil {
			return nil, fmt.Errorf("insert message: %w", err)
		}
		return []*events.Event{messageEvent(events.MessageSent, msg)}, nil
	})
	if err != nil {
		return nil, wrapUnlessApp("send message", err)
	}
	return msg, nil
}

// activeSender is the caller's active participant in the room, share-locked
// (nil when it has none): a participant token's own participant, or a
// user's present participant.
func (s *Service) activeSender(ctx context.Context, tx bun.Tx, roomID string, p *auth.Principal, viewer *models.User) (*models.Participant, error) {
	q := tx.NewSelect().Model((*models.Participant)(nil)).Where("room_id = ?", roomID).Where("is_active = ?", true)
	if viewer != nil {
		q = q.Where("user_id = ?", viewer.ID)
	} else {
		q = q.Where("id = ?", p.ParticipantID)
	}
	participant := new(models.Participant)
	err := s.forShare(q.Model(participant).Limit(1)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load participant: %w", err)
	}
	return participant, nil
}

// senderName is the name a message shows for its sender, and the sender's
// user: the participant's (its user's public name, else its guest name),
// or the host's own when it posts without being in the room.
func (s *Service) senderName(ctx context.Context, tx bun.Tx, sender *models.Participant, viewer *models.User) (string, *string, error) {
	switch {
	case sender == nil:
		return viewer.PublicName(), &viewer.ID, nil
	case sender.UserID == nil:
		return valueOr(sender.GuestName, ""), nil, nil
	case viewer != nil && viewer.ID == *sender.UserID:
		return viewer.PublicName(), sender.UserID, nil
	}
	u := new(models.User)
	if err := tx.NewSelect().Model(u).Where("id = ?", *sender.UserID).Scan(ctx); err != nil {
		return "", nil, fmt.Errorf("load sender: %w", err)
	}
	return u.PublicName(), sender.UserID, nil
}

// DeleteMessage deletes a message, keeping its place in the chat: its
// content is erased and deletedAt set. Its sender may (a user by their
// token whenever; a guest by its participant token while it is in the
// room, as for everything it does) and the room's host may; anyone else is
// FORBIDDEN (NOT_SENDER), or NOT_FOUND when they cannot see the room.
// Deleting a deleted message returns it unchanged, and announces nothing.
func (s *Service) DeleteMessage(ctx context.Context, messageID string) (*models.Message, error) {
	p, viewer, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !isKey(messageID) {
		return nil, errMessageNotFound
	}
	msg := new(models.Message)
	err = s.inTxPublishing(ctx, func(ctx context.Context, tx bun.Tx) ([]*events.Event, error) {
		err := s.forUpdate(tx.NewSelect().Model(msg).Where("id = ?", messageID)).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errMessageNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("load message: %w", err)
		}
		allowed, err := s.mayDelete(ctx, tx, msg, p, viewer)
		if err != nil {
			return nil, err
		}
		if !allowed {
			return nil, errNotSender
		}
		if msg.DeletedAt != nil {
			return nil, nil
		}
		now := s.now()
		msg.Content, msg.DeletedAt = nil, &now
		if _, err := tx.NewUpdate().Model(msg).Column("content", "deleted_at").WherePK().Exec(ctx); err != nil {
			return nil, fmt.Errorf("delete message: %w", err)
		}
		return []*events.Event{messageEvent(events.MessageDeleted, msg)}, nil
	})
	if err != nil {
		return nil, wrapUnlessApp("delete message", err)
	}
	return msg, nil
}

// mayDelete tells whether the caller may delete msg; a caller who may not
// even see its room gets NOT_FOUND.
func (s *Service) mayDelete(ctx context.Context, tx bun.Tx, msg *models.Message, p *auth.Principal, viewer *models.User) (bool, error) {
	if viewer == nil {
		// A participant token acts only in its room, while it is there.
		if p.RoomID != msg.RoomID {
			return false, errMessageNotFound
		}
		present, err := tx.NewSelect().Model((*models.Participant)(nil)).
			Where("id = ?", p.ParticipantID).Where("room_id = ?", msg.RoomID).Where("is_active = ?", true).Exists(ctx)
		if err != nil {
			return false, fmt.Errorf("load participant: %w", err)
		}
		if !present {
			return false, errParticipantGone
		}
		return msg.ParticipantID != nil && *msg.ParticipantID == p.ParticipantID, nil
	}
	if msg.UserID != nil && *msg.UserID == viewer.ID && msg.Type == models.MessageText {
		return true, nil
	}
	var room struct {
		HostID       string `bun:"host_id"`
		Participated bool   `bun:"participated"`
	}
	err := tx.NewSelect().TableExpr("rooms AS r").Column("r.host_id").
		ColumnExpr("EXISTS (SELECT 1 FROM participants AS p WHERE p.room_id = r.id AND p.user_id = ?) AS participated", viewer.ID).
		Where("r.id = ?", msg.RoomID).Scan(ctx, &room)
	if err != nil {
		return false, fmt.Errorf("load room: %w", err)
	}
	switch {
	case room.HostID == viewer.ID:
		return true, nil
	case room.Participated:
		return false, nil
	}
	return false, errMessageNotFound
}

func messageEvent(t events.Type, m *models.Message) *events.Event {
	cp := *m // the caller keeps using m; subscribers get their own copy
	return &events.Event{RoomID: m.RoomID, Type: t, Time: m.CreatedAt, Message: &cp}
}

// systemMessage writes a SYSTEM message in tx, the transaction of the
// change it records, so it exists exactly when the change does.
func systemMessage(ctx context.Context, tx bun.Tx, roomID, text string, at time.Time) error {
	msg := &models.Message{ID: models.NewID(), RoomID: roomID, Content: &text, Type: models.MessageSystem, CreatedAt: at}
	if _, err := tx.NewInsert().Model(msg).Exec(ctx); err != nil {
		return fmt.Errorf("insert system message: %w", err)
	}
	return nil
}

// MessagePage is one page of a room's messages, newest first.
type MessagePage struct {
	// First is the page size, 1-100 (nil: DefaultMessagePageSize).
	First *int
	// Before is the id of the oldest message of the previous page: the
	// page holds the messages before it.
	Before *string
}

// MessagePageKey is a room's page, as a loader key.
type MessagePageKey struct {
	RoomID string
	First  int
	Before string // "" for the newest page
}

// CheckMessagePage validates a page and returns its loader key for roomID.
func CheckMessagePage(roomID string, page MessagePage) (MessagePageKey, error) {
	key := MessagePageKey{RoomID: roomID, First: DefaultMessagePageSize}
	if page.First != nil {
		if *page.First < 1 || *page.First > MaxPageSize {
			return key, apperr.Invalid("first", fmt.Sprintf("first must be between 1 and %d", MaxPageSize))
		}
		key.First = *page.First
	}
	if page.Before != nil {
		if !isKey(*page.Before) || *page.Before == "" {
			return key, apperr.Invalid("before", "before must be the id of one of the room's messages")
		}
		key.Before = *page.Before
	}
	return key, nil
}

// MessagesByPages loads many rooms' pages of messages, newest first, in
// one statement per distinct (first, before): the rooms of one list
// selecting messages alike share one, however many they are. A page whose
// cursor is not a message of its room is BAD_USER_INPUT on before.
// Callers have checked the caller may see each room.
func (s *Service) MessagesByPages(ctx context.Context, keys []MessagePageKey) (map[MessagePageKey][]*models.Message, error) {
	type shape struct {
		first  int
		before string
	}
	groups := map[shape][]string{}
	for _, k := range keys {
		sh := shape{k.First, k.Before}
		groups[sh] = append(groups[sh], k.RoomID)
	}
	out := make(map[MessagePageKey][]*models.Message, len(keys))
	for sh, roomIDs := range groups {
		rows, err := s.messagePages(ctx, roomIDs, sh.first, sh.before)
		if err != nil {
			return nil, fmt.Errorf("load messages: %w", err)
		}
		for _, id := range roomIDs {
			out[MessagePageKey{RoomID: id, First: sh.first, Before: sh.before}] = []*models.Message{}
		}
		for _, m := range rows {
			k := MessagePageKey{RoomID: m.RoomID, First: sh.first, Before: sh.before}
			out[k] = append(out[k], m)
		}
		if sh.before != "" {
			// An empty page is the end of the chat or an unknown cursor:
			// tell them apart only then, so a normal page costs nothing.
			for _, id := range roomIDs {
				k := MessagePageKey{RoomID: id, First: sh.first, Before: sh.before}
				if len(out[k]) > 0 {
					continue
				}
				exists, err := s.db.NewSelect().Model((*models.Message)(nil)).
					Where("id = ?", sh.before).Where("room_id = ?", id).Exists(ctx)
				if err != nil {
					return nil, fmt.Errorf("load messages: check cursor: %w", err)
				}
				if !exists {
					return nil, apperr.Invalid("before", "before must be the id of one of the room's messages")
				}
			}
		}
	}
	return out, nil
}

// messagePages is the newest first messages of each room before the
// cursor, grouped by room, newest first. On PostgreSQL a LATERAL subquery
// per room reads only its page backwards off the (room_id, created_at, id)
// index, however long the chat; SQLite (no LATERAL) numbers each room's
// rows with a window over the same index.
func (s *Service) messagePages(ctx context.Context, roomIDs []string, first int, before string) ([]*models.Message, error) {
	rows := make([]*models.Message, 0, 16)
	if s.postgres {
		cursor, args := "", []any{}
		if before != "" {
			cursor = " AND (m.created_at, m.id) < (SELECT c.created_at, c.id FROM messages AS c WHERE c.id = ? AND c.room_id = r.id)"
			args = append(args, before)
		}
		args = append(args, first)
		err := s.db.NewSelect().Model(&rows).
			ModelTableExpr("rooms AS r").
			ColumnExpr("message.*").
			Join("CROSS JOIN LATERAL (SELECT * FROM messages AS m WHERE m.room_id = r.id"+cursor+
				" ORDER BY m.created_at DESC, m.id DESC LIMIT ?) AS message", args...).
			Where("r.id IN (?)", bun.In(roomIDs)).
			OrderExpr("message.room_id, message.created_at DESC, message.id DESC").
			Scan(ctx)
		return rows, err
	}
	inner := s.db.NewSelect().Model((*models.Message)(nil)).
		ColumnExpr("message.*").
		ColumnExpr("ROW_NUMBER() OVER (PARTITION BY message.room_id ORDER BY message.created_at DESC, message.id DESC) AS rn").
		Where("message.room_id IN (?)", bun.In(roomIDs))
	if before != "" {
		inner = inner.Where("(message.created_at, message.id) < (SELECT c.created_at, c.id FROM messages AS c WHERE c.id = ? AND c.room_id = message.room_id)", before)
	}
	err := s.db.NewSelect().
		Model(&rows).
		ModelTableExpr("(?) AS message", inner).
		Column("message.id", "message.room_id", "message.participant_id", "message.user_id", "message.sender_name",
			"message.content", "message.type", "message.created_at", "message.deleted_at").
		Where("message.rn <= ?", first).
		OrderExpr("message.room_id, message.created_at DESC, message.id DESC").
		Scan(ctx)
	return rows, err
}

// LegacyRoomMessages is GET /rooms/:id/messages: the room's oldest
// LegacyMessageLimit messages, oldest first, with their senders' users, to
// whoever may see the room (see Room).
func (s *Service) LegacyRoomMessages(ctx context.Context, roomID string) ([]*models.Message, map[string]*models.User, error) {
	room, err := s.Room(ctx, roomID)
	if err != nil {
		return nil, nil, err
	}
	rows := make([]*models.Message, 0, 16)
	if err := s.db.NewSelect().Model(&rows).Where("room_id = ?", room.ID).
		OrderExpr("created_at ASC, id ASC").Limit(LegacyMessageLimit).Scan(ctx); err != nil {
		return nil, nil, fmt.Errorf("load messages: %w", err)
	}
	var ids []string
	for _, m := range rows {
		if m.UserID != nil {
			ids = append(ids, *m.UserID)
		}
	}
	users := map[string]*models.User{}
	if len(ids) > 0 {
		if users, err = s.UsersByIDs(ctx, ids); err != nil {
			return nil, nil, err
		}
	}
	return rows, users, nil
}
