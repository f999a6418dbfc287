package router

import (
	"context"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/permissions"
)

// RefusalQuiet is how long gavel stays silent to a member without any moderation standing
// after refusing them a prefix command: one answer tells them, fifteen would let anyone make
// the bot post without limit.
const RefusalQuiet = time.Minute

// moderationPermissions are Discord's permissions that make a member a moderator of some
// kind: whoever has one of them may be refused a command above it, but is always told.
const moderationPermissions = permissions.Administrator | permissions.BanMembers | permissions.KickMembers |
	permissions.ModerateMembers | permissions.ManageRoles | permissions.ManageMessages | permissions.ManageGuild |
	permissions.ManageChannels

// hush remembers, per guild and member, when gavel last answered a refusal that it may
// keep to itself for a while. Time is read from the injected clock.
type hush struct {
	clock  clock.Clock
	window time.Duration

	mu   sync.Mutex
	last map[hushKey]time.Time
}

type hushKey struct {
	guild discord.GuildID // 0 for DMs
	user  discord.UserID
}

// hushPrune bounds the map: past this many entries, expired ones are dropped on insert.
const hushPrune = 4096

func newHush(c clock.Clock, window time.Duration) *hush {
	return &hush{clock: c, window: window, last: map[hushKey]time.Time{}}
}

// answer reports whether a refusal to user in guild should be answered now: the first in a
// window is, and starts it; the others in it are not.
func (h *hush) answer(guild discord.GuildID, user discord.UserID) bool {
	now := h.clock.Now()
	k := hushKey{guild, user}
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.last[k]; ok && now.Sub(t) < h.window {
		return false
	}
	if len(h.last) >= hushPrune {
		for key, t := range h.last {
			if now.Sub(t) >= h.window {
				delete(h.last, key)
			}
		}
	}
	h.last[k] = now
	return true
}

// plain reports whether a refused member has no moderation standing at all: in a guild
// judged by Discord's permissions, none of the permissions any command needs; in a guild
// with ranks, a rank below every rank a command requires (rank 0 when none is set). Such a
// member's refusals are the ones gavel may keep quiet about; a junior moderator refused a
// command above their rank is always told.
func (rt *Router) plain(ctx context.Context, sub permissions.Subject, d permissions.Decision) bool {
	switch d.Via {
	case permissions.ViaDiscordPermission:
		return sub.NativePermissions&moderationPermissions == 0
	case permissions.ViaRank:
		lowest := 1
		if cmds, err := rt.cfg.Perms.CommandRanks(ctx, sub.GuildID); err == nil && len(cmds) > 0 {
			lowest = cmds[0].Rank
			for _, c := range cmds {
				lowest = min(lowest, c.Rank)
			}
			lowest = max(lowest, 1)
		}
		return d.UserRank < lowest
	}
	return false
}
