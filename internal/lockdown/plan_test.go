package lockdown_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/lockdown"
)

const (
	guild = discord.GuildID(100)
	bot   = discord.UserID(7)
	mods  = discord.RoleID(20)
	regs  = discord.RoleID(21)
	plain = discord.UserID(30)
	boss  = discord.UserID(31)
)

func TestPlan(t *testing.T) {
	staff := lockdown.Staff{Roles: map[discord.RoleID]bool{mods: true}, Members: map[discord.UserID]bool{boss: true}}
	bits := lockdown.Denied
	everyone := discord.Overwrite{ID: int64(guild), Type: discord.OverwriteRole, Allow: lockdown.PermSendMessages | 1<<14, Deny: 1 << 15}
	regsOw := discord.Overwrite{ID: int64(regs), Type: discord.OverwriteRole, Allow: lockdown.PermSendMessages | lockdown.PermAddReactions | 1<<10}
	modsOw := discord.Overwrite{ID: int64(mods), Type: discord.OverwriteRole, Allow: lockdown.PermSendMessages}
	plainOw := discord.Overwrite{ID: int64(plain), Type: discord.OverwriteMember, Allow: lockdown.PermSendMessages, Deny: 1 << 14}
	bossOw := discord.Overwrite{ID: int64(boss), Type: discord.OverwriteMember, Allow: lockdown.PermSendMessages}
	regsDenyOnly := discord.Overwrite{ID: int64(regs), Type: discord.OverwriteRole, Deny: lockdown.PermSendMessages}

	tests := []struct {
		name  string
		in    []discord.Overwrite
		admin bool
		want  []lockdown.Change
	}{
		{name: "no overwrites: @everyone and gavel's created", in: nil, want: []lockdown.Change{
			{ID: int64(guild), Type: discord.OverwriteRole, BeforeAbsent: true, Set: discord.Overwrite{ID: int64(guild), Deny: bits}},
			{ID: int64(bot), Type: discord.OverwriteMember, BeforeAbsent: true, Set: discord.Overwrite{ID: int64(bot), Type: discord.OverwriteMember, Allow: bits}},
		}},
		{name: "gavel an administrator: no overwrite of its own", in: nil, admin: true, want: []lockdown.Change{
			{ID: int64(guild), Type: discord.OverwriteRole, BeforeAbsent: true, Set: discord.Overwrite{ID: int64(guild), Deny: bits}},
		}},
		{name: "mixed: non-staff allows dropped, staff and denies kept", in: []discord.Overwrite{everyone, regsOw, modsOw, plainOw, bossOw, regsDenyOnly}, admin: true,
			want: []lockdown.Change{
				{ID: int64(guild), Type: discord.OverwriteRole, Before: everyone, Set: discord.Overwrite{ID: int64(guild), Allow: 1 << 14, Deny: 1<<15 | bits}},
				{ID: int64(regs), Type: discord.OverwriteRole, Before: regsOw, Set: discord.Overwrite{ID: int64(regs), Allow: 1 << 10}},
				{ID: int64(plain), Type: discord.OverwriteMember, Before: plainOw, Set: discord.Overwrite{ID: int64(plain), Type: discord.OverwriteMember, Deny: 1 << 14}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lockdown.Plan(guild, bot, tt.admin, tt.in, bits, staff)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlanKeepsSync: a category and a channel synced with it (the same overwrites in another
// order) get the same overwrites from a lockdown, so they stay synced.
func TestPlanKeepsSync(t *testing.T) {
	a := []discord.Overwrite{{ID: int64(regs), Allow: lockdown.PermSendMessages}, {ID: int64(guild), Deny: 1 << 10}, {ID: int64(plain), Type: discord.OverwriteMember, Allow: 1 << 6}}
	b := []discord.Overwrite{a[2], a[0], a[1]}
	apply := func(in []discord.Overwrite) []discord.Overwrite {
		out := append([]discord.Overwrite(nil), in...)
		for _, c := range lockdown.Plan(guild, bot, false, in, lockdown.Denied, lockdown.Staff{}) {
			found := false
			for i := range out {
				if out[i].ID == c.ID {
					out[i], found = c.Set, true
				}
			}
			if !found {
				out = append(out, c.Set)
			}
		}
		return out
	}
	if !lockdown.SameOverwrites(apply(a), apply(b)) {
		t.Errorf("synced overwrites diverged: %+v vs %+v", apply(a), apply(b))
	}
}

func TestEveryoneCanView(t *testing.T) {
	g := discord.Guild{ID: guild, Roles: []discord.Role{{ID: guild.EveryoneRole(), Permissions: 1 << 10}}}
	if !lockdown.EveryoneCanView(g, nil) {
		t.Error("a channel without overwrites is not public")
	}
	if lockdown.EveryoneCanView(g, []discord.Overwrite{{ID: int64(guild), Deny: 1 << 10}}) {
		t.Error("a channel denying @everyone View Channel is public")
	}
	hidden := discord.Guild{ID: guild, Roles: []discord.Role{{ID: guild.EveryoneRole()}}}
	if !lockdown.EveryoneCanView(hidden, []discord.Overwrite{{ID: int64(guild), Allow: 1 << 10}}) {
		t.Error("a channel allowing @everyone View Channel is private")
	}
}
