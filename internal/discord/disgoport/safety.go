package disgoport

import (
	"context"
	"time"

	"github.com/disgoorg/disgo/rest"

	"github.com/gavelbot/gavel/internal/discord"
)

// wireSafety is what GET /guilds/{id} tells of a guild's safety.
type wireSafety struct {
	VerificationLevel int            `json:"verification_level"`
	IncidentsData     *wireIncidents `json:"incidents_data"`
}

type wireIncidents struct {
	InvitesDisabledUntil *time.Time `json:"invites_disabled_until"`
	DMsDisabledUntil     *time.Time `json:"dms_disabled_until"`
	RaidDetectedAt       *time.Time `json:"raid_detected_at"`
}

func (w *wireIncidents) into(s *discord.Safety) {
	if w == nil {
		return
	}
	at := func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return t.UTC()
	}
	s.InvitesDisabledUntil, s.DMsDisabledUntil, s.RaidDetectedAt = at(w.InvitesDisabledUntil), at(w.DMsDisabledUntil), at(w.RaidDetectedAt)
}

// GuildSafety implements discord.GuildSafety.
func (a *Adapter) GuildSafety(ctx context.Context, guildID discord.GuildID) (discord.Safety, error) {
	var g wireSafety
	if err := a.do(ctx, call{op: "get guild", endpoint: rest.GetGuild.Compile(nil, guildID), out: &g}); err != nil {
		return discord.Safety{}, err
	}
	s := discord.Safety{VerificationLevel: g.VerificationLevel}
	g.IncidentsData.into(&s)
	return s, nil
}

// SetIncidentActions implements discord.GuildSafety: both fields are always sent, since
// Discord resets one that is left out.
func (a *Adapter) SetIncidentActions(ctx context.Context, guildID discord.GuildID, invitesUntil, dmsUntil time.Time, reason string) (discord.Safety, error) {
	stamp := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		s := t.UTC().Format(time.RFC3339Nano)
		return &s
	}
	body := struct {
		Invites *string `json:"invites_disabled_until"`
		DMs     *string `json:"dms_disabled_until"`
	}{stamp(invitesUntil), stamp(dmsUntil)}
	var out wireIncidents
	if err := a.do(ctx, call{op: "incident actions", endpoint: rest.UpdateGuildIncidentActions.Compile(nil, guildID), body: body, out: &out, reason: reason}); err != nil {
		return discord.Safety{}, err
	}
	var s discord.Safety
	out.into(&s)
	return s, nil
}

// SetVerificationLevel implements discord.GuildSafety.
func (a *Adapter) SetVerificationLevel(ctx context.Context, guildID discord.GuildID, level int, reason string) error {
	body := struct {
		Level int `json:"verification_level"`
	}{level}
	// Modify Guild answers with the guild, which gavel does not need here.
	return a.do(ctx, call{op: "modify guild", endpoint: rest.UpdateGuild.Compile(nil, guildID), body: body, reason: reason})
}

var _ discord.GuildSafety = (*Adapter)(nil)
