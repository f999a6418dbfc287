// Package cases is the case domain: what a moderation case is, how it is numbered, how every
// change to it is recorded, and the queries moderators and the expiry poller need.
package cases

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
)

// Type is the kind of moderation action a case records.
type Type string

// The 14 case types of Tux, plus SOFTBAN, NOTE, AUTOMOD, RAID and LOCKDOWN.
const (
	Ban          Type = "BAN"
	Unban        Type = "UNBAN"
	Hackban      Type = "HACKBAN"
	Tempban      Type = "TEMPBAN"
	Kick         Type = "KICK"
	Timeout      Type = "TIMEOUT"
	Untimeout    Type = "UNTIMEOUT"
	Warn         Type = "WARN"
	Jail         Type = "JAIL"
	Unjail       Type = "UNJAIL"
	Snippetban   Type = "SNIPPETBAN"
	Snippetunban Type = "SNIPPETUNBAN"
	Pollban      Type = "POLLBAN"
	Pollunban    Type = "POLLUNBAN"
	Softban      Type = "SOFTBAN"
	Note         Type = "NOTE"
	Automod      Type = "AUTOMOD"
	// Raid is a raid's parent case (docs/raids.md): its target is gavel itself (the raid is
	// gavel's raid mode, not one member), its moderator whoever started it (gavel on
	// detection); the members acted on in it get child cases of their own.
	Raid Type = "RAID"
	// Lockdown is a lockdown of channels or of the whole server (docs/raids.md#lockdown):
	// its target is gavel itself, its moderator whoever locked; unlock marks it processed.
	Lockdown Type = "LOCKDOWN"
)

// Types returns every case type in a stable order.
func Types() []Type {
	return []Type{Ban, Unban, Hackban, Tempban, Kick, Timeout, Untimeout, Warn, Jail, Unjail,
		Snippetban, Snippetunban, Pollban, Pollunban, Softban, Note, Automod, Raid, Lockdown}
}

// ParseType accepts a type name in any letter case.
func ParseType(s string) (Type, error) {
	t := Type(strings.ToUpper(strings.TrimSpace(s)))
	if t.Valid() {
		return t, nil
	}
	return "", input.Invalid("type", fmt.Sprintf("%q is not a case type; accepted: %s", s, typeList()))
}

// Valid reports whether t is a known case type.
func (t Type) Valid() bool {
	for _, k := range Types() {
		if k == t {
			return true
		}
	}
	return false
}

func typeList() string {
	names := make([]string, 0, len(Types()))
	for _, t := range Types() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// restrictions pairs each restriction with the case type that lifts it. A user is under a
// restriction when the newest non-voided case among the pair is the restriction itself.
var restrictions = map[Type]Type{Jail: Unjail, Pollban: Pollunban, Snippetban: Snippetunban}

// Lift returns the case type that lifts restriction t (JAIL → UNJAIL), and false when t is not
// a restriction.
func (t Type) Lift() (Type, bool) {
	off, ok := restrictions[t]
	return off, ok
}

// Status is where a case stands.
type Status string

const (
	// Pending: recorded before its Discord action, not yet known to have happened.
	Pending Status = "pending"
	// Active: the action happened (or needs none) and the case counts.
	Active Status = "active"
	// Voided: the action failed or a moderator voided it; kept, but it no longer counts.
	Voided Status = "voided"
)

// ParseStatus accepts a status name in any letter case.
func ParseStatus(s string) (Status, error) {
	st := Status(strings.ToLower(strings.TrimSpace(s)))
	switch st {
	case Pending, Active, Voided:
		return st, nil
	}
	return "", input.Invalid("status", fmt.Sprintf("%q is not a case status; accepted: pending, active, voided", s))
}

// Case is one moderation case.
type Case struct {
	ID          int64           `json:"id"`
	GuildID     discord.GuildID `json:"guild_id,string"`
	Number      int64           `json:"number"`
	Type        Type            `json:"type"`
	Status      Status          `json:"status"`
	Processed   bool            `json:"processed"`
	Reason      string          `json:"reason"`
	ModeratorID discord.UserID  `json:"moderator_id,string"`
	UserID      discord.UserID  `json:"user_id,string"`
	// RoleIDs are the roles taken from the user (by a jail) and to be given back.
	RoleIDs IDs `json:"role_ids,omitempty"`
	// ExpiresAt is when a temporary action ends; zero when it never does.
	ExpiresAt time.Time         `json:"expires_at,omitzero"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	// ModlogChannelID and ModlogMessageID are where the case's mod-log message is: edits go
	// there even after the guild's mod-log channel changes. Zero while nothing is posted.
	ModlogChannelID discord.ChannelID `json:"modlog_channel_id,omitempty,string"`
	ModlogMessageID discord.MessageID `json:"modlog_message_id,omitempty,string"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
}

// IDs are role ids. In JSON they are strings, as in Discord's API, because a
// JavaScript reader would round numbers above 2^53.
type IDs []discord.RoleID

// MarshalJSON writes the ids as JSON strings.
func (ids IDs) MarshalJSON() ([]byte, error) {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads ids written as JSON strings or numbers.
func (ids *IDs) UnmarshalJSON(b []byte) error {
	var raw []json.Number
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("ids: %w", err)
	}
	out := make(IDs, 0, len(raw))
	for _, r := range raw {
		id, err := strconv.ParseInt(string(r), 10, 64)
		if err != nil {
			return fmt.Errorf("ids: %q is not a snowflake", r)
		}
		out = append(out, discord.RoleID(id))
	}
	*ids = out
	return nil
}

// EventKind names what a history row records.
type EventKind string

const (
	EventCreated   EventKind = "created"
	EventReason    EventKind = "reason"
	EventStatus    EventKind = "status"
	EventExpiry    EventKind = "expiry"
	EventVoided    EventKind = "voided"
	EventModlog    EventKind = "modlog"
	EventProcessed EventKind = "processed"
	// EventNote records something done about a case that changes none of its fields, such
	// as a jail given back to a member who left and rejoined.
	EventNote EventKind = "note"
	// EventPoints records a case's escalation points changing (internal/escalation).
	EventPoints EventKind = "points"
)

// Event is one row of a case's append-only history.
type Event struct {
	ID      int64           `json:"id"`
	CaseID  int64           `json:"case_id"`
	GuildID discord.GuildID `json:"guild_id,string"`
	Kind    EventKind       `json:"kind"`
	ActorID discord.UserID  `json:"actor_id,string"`
	// Old and New are the values before and after, as text ("" where there was none).
	Old  string    `json:"old,omitempty"`
	New  string    `json:"new,omitempty"`
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

// Limits on what a case may hold.
const (
	MaxReasonLength    = 2000
	MaxMetadataKeys    = 32
	MaxMetadataKey     = 64
	MaxMetadataValue   = 1024
	MaxRoleIDs         = 250
	MaxPerPage         = 100
	MaxSearchTextBytes = 200
)

// ErrNotFound is returned when no case matches.
var ErrNotFound = errors.New("case not found")

func checkID[T discord.Snowflake](field string, id T) error {
	if id <= 0 {
		return input.Invalid(field, fmt.Sprintf("%d is not a Discord id; ids are positive numbers", id))
	}
	return nil
}

func checkReason(field, r string) error {
	if strings.TrimSpace(r) == "" {
		return input.Invalid(field, "is empty; give 1 to 2000 characters")
	}
	if n := len([]rune(r)); n > MaxReasonLength {
		return input.Invalid(field, fmt.Sprintf("is %d characters long; at most %d are accepted", n, MaxReasonLength))
	}
	return nil
}

func checkMetadata(m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return input.Invalid("metadata", fmt.Sprintf("has %d keys; at most %d are accepted", len(m), MaxMetadataKeys))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := checkMetadataKey(k); err != nil {
			return err
		}
		if n := len([]rune(m[k])); n > MaxMetadataValue {
			return input.Invalid("metadata", fmt.Sprintf("value of %q is %d characters long; at most %d are accepted", k, n, MaxMetadataValue))
		}
	}
	return nil
}

func checkMetadataKey(k string) error {
	if k == "" || len(k) > MaxMetadataKey {
		return input.Invalid("metadata key", fmt.Sprintf("%q must be 1 to %d characters of a-z, A-Z, 0-9, _ and -", k, MaxMetadataKey))
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return input.Invalid("metadata key", fmt.Sprintf("%q must be 1 to %d characters of a-z, A-Z, 0-9, _ and -", k, MaxMetadataKey))
		}
	}
	return nil
}
