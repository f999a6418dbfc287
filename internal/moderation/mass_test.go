package moderation_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
)

// massWorld is the world with the coordinator keeping mass actions in the store, gavel
// holding Manage Server as well (bulk bans need it), and the bulk-ban route's window lifted
// (the benchmark measures the pacing; these tests count calls and cases).
func massWorld(t *testing.T, engine store.Engine) *world {
	t.Helper()
	w := newWorld(t, engine, discordtest.WithRouteLimit(discordtest.BulkBanRoute, 0, 0))
	w.s.EditRole(w.guild, w.botRole, func(r *discordtest.Role) { r.Permissions |= discordtest.PermManageGuild })
	w.co = moderation.NewCoordinator(actions.Catalogue(), w.port, w.cases, w.settings, w.exec,
		moderation.WithBotUserID(discord.UserID(w.s.BotID())), moderation.WithStore(w.st), moderation.WithDMTimeout(testDMTimeout))
	return w
}

// raiders makes n new members and returns their ids.
func (w *world) raiders(n int) []discord.UserID {
	out := make([]discord.UserID, n)
	for i := range out {
		u := w.s.AddUser(fmt.Sprintf("raider%d", i), false)
		w.s.AddMember(w.guild, u)
		out[i] = discord.UserID(u)
	}
	return out
}

func (w *world) massReq(kind moderation.MassKind, targets []discord.UserID) moderation.MassRequest {
	return moderation.MassRequest{GuildID: discord.GuildID(w.guild), Moderator: discord.User{ID: discord.UserID(w.owner), Username: "owner"},
		Kind: kind, Targets: targets, Reason: "raid"}
}

// children returns the mass action's child cases by user.
func (w *world) children(t *testing.T, parent int64) map[discord.UserID][]cases.Case {
	t.Helper()
	out := map[discord.UserID][]cases.Case{}
	err := w.cases.BrowseAll(context.Background(), cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(w.guild)}}, func(c cases.Case) error {
		if c.Metadata[cases.MetaParentCase] == strconv.FormatInt(parent, 10) {
			out[c.UserID] = append(out[c.UserID], c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMassBanThousand: 1,000 raiders are banned in five bulk calls, each with one active BAN
// child of the parent case, and the mod log shows the mass action as one message.
func TestMassBanThousand(t *testing.T) {
	t.Parallel()
	for _, engine := range engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			w := massWorld(t, engine)
			ids := w.raiders(1000)
			var chunks []moderation.MassProgress
			req := w.massReq(moderation.MassBan, ids)
			req.Progress = func(p moderation.MassProgress) { chunks = append(chunks, p) }
			res := w.co.ExecuteMass(context.Background(), req)
			if res.Err != nil || res.Refused || res.Parent == nil {
				t.Fatalf("ExecuteMass = %+v", res)
			}
			if got := w.s.RateLimitStats().Routes[discordtest.BulkBanRoute].Requests; got != 5 {
				t.Errorf("%d bulk-ban calls; want 5", got)
			}
			if len(chunks) != 5 || chunks[4].Done != 1000 || chunks[0].Done != 200 {
				t.Errorf("progress = %+v; want five chunks of 200", chunks)
			}
			kids := w.children(t, res.Parent.Number)
			if len(kids) != 1000 {
				t.Fatalf("%d users have child cases; want 1000", len(kids))
			}
			for _, id := range ids {
				cs := kids[id]
				if len(cs) != 1 || cs[0].Type != cases.Ban || cs[0].Status != cases.Active {
					t.Fatalf("user %d has child cases %+v; want one active BAN", id, cs)
				}
				if _, banned := w.s.Banned(w.guild, discordtest.ID(id)); !banned {
					t.Fatalf("user %d is not banned", id)
				}
			}
			if !strings.Contains(res.Reply.Content, "1000 of 1000 banned") {
				t.Errorf("reply %q does not sum it up", res.Reply.Content)
			}
			w.modlogSettled(t)
			posts := 0
			var shown string
			for _, m := range w.s.Messages(w.modlog) {
				if len(m.Embeds) > 0 && strings.Contains(string(m.Embeds[0]), "Case #") {
					posts++
					shown = string(m.Embeds[0])
				}
			}
			if posts != 1 {
				t.Errorf("%d mod-log messages; want one for the mass ban", posts)
			}
			if !strings.Contains(shown, "MASS BAN") || !strings.Contains(shown, "Done: 1000 of 1000 banned") {
				t.Errorf("the mod-log message %s does not show the finished mass ban", shown)
			}
			p, err := w.cases.Get(context.Background(), res.Parent.ID)
			if err != nil || p.Metadata[cases.MetaMass] != "ban" || p.Metadata["mass_targets"] != "1000" {
				t.Errorf("parent = %+v, %v", p, err)
			}
		})
	}
}

// TestMassBanRefusals: the owner, gavel, a moderator above the issuer, more than 10,000 ids,
// gavel without Manage Server: each refused with what is accepted, nothing changed.
func TestMassBanRefusals(t *testing.T) {
	t.Parallel()
	w := massWorld(t, store.SQLite)
	ids := w.raiders(3)
	ctx := context.Background()
	alice := discord.User{ID: discord.UserID(w.alice), Username: "alice"}
	tooMany := make([]discord.UserID, moderation.MaxMassTargets+1)
	for i := range tooMany {
		tooMany[i] = discord.UserID(900000000000000000 + i)
	}
	for name, tc := range map[string]struct {
		req  moderation.MassRequest
		want string
	}{
		"owner":    {w.massReq(moderation.MassBan, append(ids, discord.UserID(w.owner))), "the owner"},
		"bot":      {w.massReq(moderation.MassBan, append(ids, discord.UserID(w.s.BotID()))), "gavel itself"},
		"too many": {w.massReq(moderation.MassBan, tooMany), "at most 10000"},
		"above the issuer": {func() moderation.MassRequest {
			r := w.massReq(moderation.MassBan, append(ids, discord.UserID(w.alice)))
			r.Moderator = discord.User{ID: discord.UserID(w.carol), Username: "carol"}
			return r
		}(), "at or above your highest role"},
		"nobody": {w.massReq(moderation.MassKick, nil), "Say whom to kick"},
		"equal rank": {func() moderation.MassRequest {
			r := w.massReq(moderation.MassKick, append(ids, discord.UserID(w.alice)))
			r.Moderator = alice
			return r
		}(), "you"},
	} {
		t.Run(name, func(t *testing.T) {
			res := w.co.ExecuteMass(ctx, tc.req)
			if !res.Refused || !strings.Contains(res.Reply.Content, tc.want) {
				t.Errorf("reply %q (refused %v); want a refusal saying %q", res.Reply.Content, res.Refused, tc.want)
			}
		})
	}
	w.s.EditRole(w.guild, w.botRole, func(r *discordtest.Role) { r.Permissions &^= discordtest.PermManageGuild })
	res := w.co.ExecuteMass(ctx, w.massReq(moderation.MassBan, ids))
	if !res.Refused || !strings.Contains(res.Reply.Content, "Manage Server") {
		t.Errorf("without Manage Server: %q", res.Reply.Content)
	}
	if n, err := w.cases.CountInGuild(ctx, discord.GuildID(w.guild)); err != nil || n != 0 {
		t.Errorf("%d cases after refusals (%v); want none", n, err)
	}
	if got := w.s.RateLimitStats().Routes[discordtest.BulkBanRoute].Requests; got != 0 {
		t.Errorf("%d bulk-ban calls after refusals; want none", got)
	}
}

// TestMassBanNonMemberCap: members go first; when Discord's cap on non-member bans (30035)
// stops the rest, they go to the ban-on-join list, their child cases voided saying so; the
// already banned fail as such.
func TestMassBanNonMemberCap(t *testing.T) {
	t.Parallel()
	for _, engine := range engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			w := massWorld(t, engine)
			ctx := context.Background()
			var outside []discord.UserID
			for i := range 250 {
				outside = append(outside, discord.UserID(w.s.AddUser(fmt.Sprint("left", i), false)))
			}
			members := w.raiders(10)
			if err := w.s.BanAs(w.guild, w.owner, discordtest.ID(outside[0]), "earlier"); err != nil {
				t.Fatal(err)
			}
			// One non-member ban is already counted (outside[0]); 100 more may go.
			w.s.SetNonMemberBanCap(w.guild, 101)
			res := w.co.ExecuteMass(ctx, w.massReq(moderation.MassBan, append(append([]discord.UserID{}, outside...), members...)))
			if res.Err != nil || res.Parent == nil {
				t.Fatalf("ExecuteMass = %+v", res)
			}
			for _, id := range members {
				if _, banned := w.s.Banned(w.guild, discordtest.ID(id)); !banned {
					t.Errorf("member %d not banned", id)
				}
			}
			p := res.Progress
			if p.Done != 110 || p.Listed != 149 || p.Failed != 1 {
				t.Errorf("progress %+v; want 110 banned (10 members, 100 non-members), 149 listed, 1 already banned", p)
			}
			kids := w.children(t, res.Parent.Number)
			if c := kids[outside[0]]; len(c) != 1 || c[0].Status != cases.Voided {
				t.Errorf("the already banned user's case: %+v", c)
			}
			listed := 0
			for _, id := range outside[1:] {
				on, err := w.co.OnBanOnJoinList(ctx, discord.GuildID(w.guild), id)
				if err != nil {
					t.Fatal(err)
				}
				_, banned := w.s.Banned(w.guild, discordtest.ID(id))
				if on == banned {
					t.Fatalf("user %d: on the list %v, banned %v; want exactly one", id, on, banned)
				}
				if on {
					listed++
					if c := kids[id]; len(c) != 1 || c[0].Status != cases.Voided || c[0].Type != cases.Hackban {
						t.Fatalf("listed user %d's cases: %+v; want one voided HACKBAN", id, c)
					}
				}
			}
			if listed != 149 {
				t.Errorf("%d on the ban-on-join list; want 149", listed)
			}
			if !strings.Contains(res.Reply.Content, "ban-on-join") {
				t.Errorf("reply %q does not mention the ban-on-join list", res.Reply.Content)
			}
		})
	}
}

// TestMassBanCancelBetweenChunks: a Cancel after the first chunk stops the mass ban there:
// 200 banned, the other 300 never sent and without cases.
func TestMassBanCancelBetweenChunks(t *testing.T) {
	t.Parallel()
	w := massWorld(t, store.SQLite)
	ids := w.raiders(500)
	req := w.massReq(moderation.MassBan, ids)
	chunks := 0
	req.Progress = func(moderation.MassProgress) { chunks++ }
	req.Cancelled = func() bool { return chunks >= 1 }
	res := w.co.ExecuteMass(context.Background(), req)
	if res.Progress.Done != 200 || res.Progress.Cancelled != 300 {
		t.Errorf("progress %+v; want 200 banned and 300 cancelled", res.Progress)
	}
	if got := w.s.RateLimitStats().Routes[discordtest.BulkBanRoute].Requests; got != 1 {
		t.Errorf("%d bulk calls; want 1", got)
	}
	if kids := w.children(t, res.Parent.Number); len(kids) != 200 {
		t.Errorf("%d child cases; want 200", len(kids))
	}
	if !strings.Contains(res.Reply.Content, "Cancelled") {
		t.Errorf("reply %q", res.Reply.Content)
	}
}

// TestMassKickOneByOne: kicks go through the whole pipeline one target at a time, each a
// KICK child of the parent; a non-member is reported, not kicked.
func TestMassKickOneByOne(t *testing.T) {
	t.Parallel()
	w := massWorld(t, store.SQLite)
	ids := w.raiders(5)
	res := w.co.ExecuteMass(context.Background(), w.massReq(moderation.MassKick, append(ids, discord.UserID(w.dave))))
	if res.Progress.Done != 5 || res.Progress.Failed != 1 {
		t.Fatalf("progress %+v (%q); want 5 kicked, 1 not", res.Progress, res.Reply.Content)
	}
	kids := w.children(t, res.Parent.Number)
	for _, id := range ids {
		if c := kids[id]; len(c) != 1 || c[0].Type != cases.Kick || c[0].Status != cases.Active {
			t.Errorf("user %d: %+v", id, c)
		}
		if _, member := w.s.Member(w.guild, discordtest.ID(id)); member {
			t.Errorf("user %d still a member", id)
		}
	}
	if !strings.Contains(res.Reply.Content, "not a member") {
		t.Errorf("reply %q does not report dave", res.Reply.Content)
	}
}

// engines are the databases the mass tests run on (storetest.Open skips PostgreSQL when it
// does not answer, unless GAVEL_REQUIRE_POSTGRES says it must).
func engines(*testing.T) []store.Engine { return []store.Engine{store.SQLite, store.Postgres} }
