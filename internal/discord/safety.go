package discord

import (
	"context"
	"time"
)

// Verification levels (guild.mdx "Verification Level").
const (
	VerificationNone     = 0
	VerificationLow      = 1
	VerificationMedium   = 2
	VerificationHigh     = 3
	VerificationVeryHigh = 4
)

// MaxIncidentAhead is how far ahead Discord lets incident actions (paused invites and DMs)
// be set.
const MaxIncidentAhead = 24 * time.Hour

// Safety is a guild's raid-relevant state: its verification level and its incidents data.
// A zero time is "not set" (null).
type Safety struct {
	VerificationLevel    int
	InvitesDisabledUntil time.Time
	DMsDisabledUntil     time.Time
	// RaidDetectedAt is when Discord's own raid detection last fired; zero when never.
	RaidDetectedAt time.Time
}

// GuildSafety is what raid defence asks of Discord beyond the Port: the guild's safety
// state, the incident actions and the verification level. Both changes need Manage Server.
type GuildSafety interface {
	// GuildSafety reads the guild's verification level and incidents data.
	GuildSafety(ctx context.Context, guildID GuildID) (Safety, error)
	// SetIncidentActions sets both incident actions at once (a field left out would be reset
	// by Discord): a zero time lifts that pause. Each time is at most MaxIncidentAhead ahead.
	SetIncidentActions(ctx context.Context, guildID GuildID, invitesUntil, dmsUntil time.Time, reason string) (Safety, error)
	// SetVerificationLevel changes the guild's verification level (0 to 4).
	SetVerificationLevel(ctx context.Context, guildID GuildID, level int, reason string) error
}
