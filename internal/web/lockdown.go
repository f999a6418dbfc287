package web

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
)

// maxSnapshotRows bounds the snapshot rows the raids page lists for one lockdown (a server
// of hundreds of channels has thousands).
const maxSnapshotRows = 500

// lockdownView is an open lockdown as the raids page shows it: its case, scope, times and
// its snapshot.
type lockdownView struct {
	CaseNumber                      int64
	Server                          bool
	Reason                          string
	StartedAt, EndsAt, InvitesUntil time.Time
	Held                            int
	Rows                            []snapshotRow
	More                            int
}

// snapshotRow is one overwrite of the snapshot.
type snapshotRow struct {
	ChannelID                   int64
	Channel, State, Target      string
	Synced                      bool
	Before, Set, Outcome, Found string
}

// lockdowns reads the guild's open lockdowns with their snapshots.
func (s *Server) lockdowns(ctx context.Context, guildID discord.GuildID, roles map[discord.RoleID]string) ([]lockdownView, error) {
	open, err := s.cfg.Lockdowns.Current(ctx, guildID)
	if err != nil {
		return nil, err
	}
	out := make([]lockdownView, 0, len(open))
	for _, o := range open {
		v := lockdownView{CaseNumber: o.Case.Number, Server: o.Lockdown.Server, Reason: o.Lockdown.Reason,
			StartedAt: time.UnixMilli(o.Lockdown.StartedAt), Held: o.Held()}
		if o.Lockdown.EndsAt.Valid {
			v.EndsAt = time.UnixMilli(o.Lockdown.EndsAt.Int64)
		}
		if o.Lockdown.InvitesUntil.Valid {
			v.InvitesUntil = time.UnixMilli(o.Lockdown.InvitesUntil.Int64)
		}
		chans := map[int64]int{}
		for i, c := range o.Channels {
			chans[c.ChannelID] = i
		}
		for _, w := range o.Overwrites {
			if len(v.Rows) == maxSnapshotRows {
				v.More++
				continue
			}
			c := o.Channels[chans[w.ChannelID]]
			row := snapshotRow{ChannelID: w.ChannelID, Channel: c.Name, State: c.State, Synced: c.Synced, Outcome: w.Outcome, Found: w.Found,
				Target: overwriteTarget(guildID, w.OverwriteID, w.OverwriteType, roles),
				Set:    fmt.Sprintf("allow %d, deny %d", w.SetAllow, w.SetDeny)}
			row.Before = "absent"
			if !w.BeforeAbsent {
				row.Before = fmt.Sprintf("allow %d, deny %d", w.BeforeAllow, w.BeforeDeny)
			}
			v.Rows = append(v.Rows, row)
		}
		out = append(out, v)
	}
	return out, nil
}

func overwriteTarget(guildID discord.GuildID, id, typ int64, roles map[discord.RoleID]string) string {
	switch {
	case typ == int64(discord.OverwriteRole) && id == int64(guildID):
		return "@everyone"
	case typ == int64(discord.OverwriteRole):
		if name, ok := roles[discord.RoleID(id)]; ok {
			return "@" + name
		}
		return fmt.Sprintf("role %d", id)
	}
	return fmt.Sprintf("member %d", id)
}
