package lockdown

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
)

// maxField is Discord's limit on an embed field's value.
const maxField = 1024

// Decorate adds a LOCKDOWN case's lockdown to its mod-log message (modlog.WithDecorator):
// what it holds and until when, or when it ended, and what unlock found changed by someone
// during the lockdown (left as it was). Other cases are left as they are.
func (s *Service) Decorate(ctx context.Context, c cases.Case, msg *discord.Message) error {
	if c.Type != cases.Lockdown || len(msg.Embeds) == 0 {
		return nil
	}
	q := s.cfg.Store.Queries()
	ld, err := q.GetLockdownByCase(ctx, c.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the case is recorded a moment before its lockdown
	}
	if err != nil {
		return err
	}
	chans, err := q.LockdownChannels(ctx, ld.ID)
	if err != nil {
		return err
	}
	ows, err := q.LockdownOverwrites(ctx, ld.ID)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, ch := range chans {
		counts[ch.State]++
	}
	scope := "channels"
	if ld.Server {
		scope = "the server"
	}
	state := fmt.Sprintf("🔒 %s: %d channels locked", scope, counts["locked"]+counts["pending"])
	switch {
	case ld.EndedAt.Valid:
		state = fmt.Sprintf("🔓 ended <t:%d:f>: %s", ld.EndedAt.Int64/1000, ld.EndReason.String)
	case ld.EndsAt.Valid:
		state += fmt.Sprintf(", ends <t:%d:R>", ld.EndsAt.Int64/1000)
	default:
		state += ", until unlock"
	}
	if ld.InvitesUntil.Valid && !ld.EndedAt.Valid {
		state += "; invites paused"
	}
	if n := counts["unlocked"]; n > 0 {
		state += fmt.Sprintf("; %d unlocked", n)
	}
	if n := counts["superseded"]; n > 0 {
		state += fmt.Sprintf("; %d taken over by a later lockdown", n)
	}
	e := &msg.Embeds[0]
	e.Title = fmt.Sprintf("Lockdown · case #%d · LOCKDOWN", c.Number)
	e.Fields = append(e.Fields, discord.EmbedField{Name: "Lockdown", Value: clip(state, maxField)})
	var changed []string
	restored := 0
	for _, o := range ows {
		switch o.Outcome {
		case "changed":
			changed = append(changed, fmt.Sprintf("<#%d> %s: %s", o.ChannelID, targetText(discord.GuildID(ld.GuildID), o.OverwriteID, o.OverwriteType), o.Found))
		case "restored", "deleted":
			restored++
		}
	}
	if restored > 0 || len(changed) > 0 {
		v := fmt.Sprintf("%d overwrites put back; %d changed by someone during the lockdown, left as they are", restored, len(changed))
		if len(changed) > 0 {
			v += ":\n" + strings.Join(changed, "\n")
		}
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Unlock report", Value: clip(v, maxField)})
	}
	return nil
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
