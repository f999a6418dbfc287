package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/upkeep"
)

// handledEntries counts the audit-log entries upkeep is done with (app.WithUpkeepObserver),
// by entry. A guild's entries are handled one at a time in the order they arrived, so an
// entry handled means every entry before it was: the event a test waits for before it
// asserts that no other case came, instead of sleeping.
type handledEntries struct {
	mu sync.Mutex
	n  map[int64]int
}

func newHandledEntries() *handledEntries { return &handledEntries{n: map[int64]int{}} }

func (h *handledEntries) observe(x upkeep.Handled) {
	if x.Kind != upkeep.KindExternalAction {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[x.EntryID]++
}

// wait waits until entry has been handled times times.
func (h *handledEntries) wait(t *testing.T, entry discordtest.ID, times int) {
	t.Helper()
	waitFor(t, "audit-log entry "+entry.String()+" handled", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.n[int64(entry)] >= times
	})
}

// lastEntry returns the guild's last audit-log entry of type typ in the fake.
func (w *world) lastEntry(t *testing.T, typ int) discordtest.AuditLogEntry {
	t.Helper()
	var last discordtest.AuditLogEntry
	for _, e := range w.s.AuditLog(w.guild) {
		if e.ActionType == typ {
			last = e
		}
	}
	if last.ID == 0 {
		t.Fatalf("no audit-log entry of type %d", typ)
	}
	return last
}

// openStore opens the store gavel uses in this world, migrated, closed when the test ends:
// for what a test writes before gavel starts, or reads back after.
func (w *world) openStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenURL(ctx, w.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// services opens the world's database (migrated) with the case and settings services, as
// another process on the same database would; closed when the test ends.
func (w *world) services(t *testing.T) (*cases.Service, *settings.Service) {
	t.Helper()
	st := w.openStore(t)
	return cases.NewService(st), settings.NewService(st)
}

// start runs gavel on the world until the test ends, and waits until it is connected.
func (w *world) start(t *testing.T, opts ...app.Option) {
	t.Helper()
	w.runApp(t, opts...)
}

func caseOf(t *testing.T, cs *cases.Service, guild, user discordtest.ID, typ cases.Type) (cases.Case, bool) {
	t.Helper()
	c, err := cs.LatestOfUser(context.Background(), discord.GuildID(guild), discord.UserID(user), typ)
	return c, err == nil
}

func TestActionsTakenOutsideGavelBecomeCases(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, gs := w.services(t)
	ctx := context.Background()
	modlog := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "mod-log")
	if _, err := gs.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.ModLog, discord.ChannelID(modlog)); err != nil {
		t.Fatal(err)
	}
	entries := newHandledEntries()
	w.start(t, app.WithUpkeepObserver(entries.observe))

	if err := w.s.BanAs(w.guild, w.mod, w.target, "raiding"); err != nil {
		t.Fatal(err)
	}
	var ban cases.Case
	waitFor(t, "the ban's case, finalized", func() (ok bool) {
		ban, ok = caseOf(t, cs, w.guild, w.target, cases.Ban)
		return ok && ban.Status != cases.Pending
	})
	if ban.ModeratorID != discord.UserID(w.mod) || ban.Reason != "raiding" || ban.Status != cases.Active || ban.Metadata[cases.MetaAuditLogEntry] == "" {
		t.Errorf("ban case = %+v", ban)
	}
	waitFor(t, "the ban in the mod log", func() bool {
		msgs := w.s.Messages(modlog)
		return len(msgs) == 1 && strings.Contains(string(msgs[0].Embeds[0]), "raiding")
	})

	if err := w.s.UnbanAs(w.guild, w.mod, w.target, ""); err != nil {
		t.Fatal(err)
	}
	var unban cases.Case
	waitFor(t, "the unban's case", func() (ok bool) { unban, ok = caseOf(t, cs, w.guild, w.target, cases.Unban); return ok })
	if unban.Reason != "No reason provided" || unban.ModeratorID != discord.UserID(w.mod) {
		t.Errorf("unban case = %+v; want the default reason", unban)
	}

	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := w.s.TimeoutAs(w.guild, w.mod, w.other, until, "cool down"); err != nil {
		t.Fatal(err)
	}
	var to cases.Case
	waitFor(t, "the timeout's case", func() (ok bool) { to, ok = caseOf(t, cs, w.guild, w.other, cases.Timeout); return ok })
	if !to.ExpiresAt.Equal(until) || to.Reason != "cool down" {
		t.Errorf("timeout case = %+v; want it to end at %v", to, until)
	}
	if err := w.s.TimeoutAs(w.guild, w.mod, w.other, time.Time{}, "calm now"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the untimeout's case", func() bool { _, ok := caseOf(t, cs, w.guild, w.other, cases.Untimeout); return ok })

	if err := w.s.KickAs(w.guild, w.owner, w.other, "bye"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the kick's case", func() bool { _, ok := caseOf(t, cs, w.guild, w.other, cases.Kick); return ok })

	// A replayed entry (a resumed session) makes no second case.
	var banEntry discordtest.AuditLogEntry
	for _, e := range w.s.AuditLog(w.guild) {
		if e.ActionType == discordtest.AuditMemberBanAdd {
			banEntry = e
		}
	}
	w.s.EmitAuditLogEntry(w.guild, banEntry)

	// gavel's own ban has its case already: one case, not two.
	w.s.SendMessage(w.general, w.mod, "$ban <@"+w.plain.String()+"> spam")
	waitFor(t, "gavel's ban", func() bool { _, ok := caseOf(t, cs, w.guild, w.plain, cases.Ban); return ok })

	// A ban and the unban right after it are numbered in the order they happened.
	if err := w.s.BanAs(w.guild, w.owner, w.other, "first"); err != nil {
		t.Fatal(err)
	}
	if err := w.s.UnbanAs(w.guild, w.owner, w.other, "second"); err != nil {
		t.Fatal(err)
	}
	var first, second cases.Case
	waitFor(t, "the quick ban and unban", func() bool {
		var ok1, ok2 bool
		first, ok1 = caseOf(t, cs, w.guild, w.other, cases.Ban)
		second, ok2 = caseOf(t, cs, w.guild, w.other, cases.Unban)
		return ok1 && ok2
	})
	if first.Number > second.Number {
		t.Errorf("ban is case #%d and the unban after it #%d; want them in order", first.Number, second.Number)
	}

	// The replay and gavel's own ban came before the quick unban: once it is handled, so
	// are they.
	entries.wait(t, banEntry.ID, 2)
	entries.wait(t, w.lastEntry(t, discordtest.AuditMemberBanRemove).ID, 1)
	n, err := cs.CountInGuild(ctx, discord.GuildID(w.guild))
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		all, _ := cs.Recent(ctx, discord.GuildID(w.guild), time.Hour, 100)
		t.Errorf("%d cases; want 8 (ban, unban, timeout, untimeout, kick, gavel's ban, ban, unban): %+v", n, all)
	}
}

// TestMirroringOff: a guild that turned mirror_external_actions off gets no case for a ban
// done by hand.
func TestMirroringOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, gs := w.services(t)
	ctx := context.Background()
	if _, err := gs.SetMirrorExternalActions(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), false); err != nil {
		t.Fatal(err)
	}
	entries := newHandledEntries()
	w.start(t, app.WithUpkeepObserver(entries.observe))
	if err := w.s.BanAs(w.guild, w.mod, w.target, "off the record"); err != nil {
		t.Fatal(err)
	}
	w.s.SendMessage(w.general, w.mod, "$warn <@"+w.other.String()+"> on the record")
	waitFor(t, "the warn", func() bool { _, ok := w.botReply(w.general, "Case #1"); return ok })
	entries.wait(t, w.lastEntry(t, discordtest.AuditMemberBanAdd).ID, 1)
	if n, err := cs.CountInGuild(ctx, discord.GuildID(w.guild)); err != nil || n != 1 {
		t.Errorf("%d cases, %v; want only the warn", n, err)
	}
}

func TestRejailOnRejoin(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, gs := w.services(t)
	ctx := context.Background()
	jailRole := w.s.AddRole(w.guild, "jailed", 1, 0)
	memberRole := w.s.AddRole(w.guild, "member", 1, 0)
	w.s.AddMember(w.guild, w.target, memberRole)
	jailChannel := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "jail")
	auditlog := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "audit-log")
	for which, id := range map[settings.Channel]discordtest.ID{settings.JailChannel: jailChannel, settings.AuditLog: auditlog} {
		if _, err := gs.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), which, discord.ChannelID(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gs.SetJailRole(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), discord.RoleID(jailRole)); err != nil {
		t.Fatal(err)
	}
	// The second look waits on the test's clock: the test gives the role after the first
	// look, then moves the clock to the second. 97 minutes stands apart from gavel's other
	// waits on the same clock (the expiry poller's, the shard manager's), and the test waits
	// for a timer at exactly that instant: "any timer after 59 minutes" was once answered by
	// another wait while the second look was not yet armed, so the clock moved past it.
	const recheck = 97 * time.Minute
	clk := clock.NewManual(time.Now().UTC())
	w.start(t, app.WithClock(clk), app.WithRejailRecheck(recheck))

	w.s.SendMessage(w.general, w.owner, "$jail <@"+w.target.String()+"> cool off")
	waitFor(t, "the jail", func() bool { _, ok := w.botReply(w.general, "Case #1"); return ok })
	jail, ok := caseOf(t, cs, w.guild, w.target, cases.Jail)
	if !ok || jail.Status != cases.Active {
		t.Fatalf("jail case = %+v, %v", jail, ok)
	}

	w.s.UserLeaves(w.guild, w.target)
	if err := w.s.UserJoins(w.guild, w.target); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the jail role given back", func() bool {
		m, ok := w.s.Member(w.guild, w.target)
		return ok && len(m.Roles) == 1 && m.Roles[0] == jailRole
	})
	waitFor(t, "the re-jail in the case's history", func() bool {
		evs, err := cs.Events(ctx, jail.ID)
		return err == nil && evs[len(evs)-1].Kind == cases.EventNote && strings.HasPrefix(evs[len(evs)-1].Note, "re-jailed on rejoin")
	})
	waitFor(t, "the re-jail in the audit-log channel", func() bool {
		msgs := w.s.Messages(auditlog)
		return len(msgs) == 1 && strings.Contains(string(msgs[0].Embeds[0]), "Re-jailed on rejoin")
	})

	// Another bot gives the member a role just after the join; gavel's second look takes it.
	waitCtx, cancel := context.WithTimeout(ctx, eventBound)
	defer cancel()
	// Exactly then: the clock has not moved since the rejoin, and another of gavel's waits
	// on the clock may be armed later than that before the second look is.
	if err := clk.WaitArmedAt(waitCtx, clk.Now().Add(recheck)); err != nil {
		t.Fatalf("the second look was not scheduled: %v", err)
	}
	w.s.AddMember(w.guild, w.target, jailRole, memberRole)
	waitFor(t, "the on-join role seen by gavel", func() bool {
		m, ok := w.s.Member(w.guild, w.target)
		return ok && len(m.Roles) == 2
	})
	clk.Advance(recheck)
	waitFor(t, "the on-join role taken on the second look", func() bool {
		m, ok := w.s.Member(w.guild, w.target)
		return ok && len(m.Roles) == 1 && m.Roles[0] == jailRole
	})
	waitFor(t, "the second look in the case's history", func() bool {
		evs, err := cs.Events(ctx, jail.ID)
		return err == nil && strings.HasPrefix(evs[len(evs)-1].Note, "re-jailed on rejoin: roles given since rejoining taken")
	})
}

func TestJailRoleDeniedOnNewChannels(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, gs := w.services(t)
	ctx := context.Background()
	jailRole := w.s.AddRole(w.guild, "jailed", 1, 0)
	auditlog := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "audit-log")
	if _, err := gs.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.AuditLog, discord.ChannelID(auditlog)); err != nil {
		t.Fatal(err)
	}
	if _, err := gs.SetJailRole(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), discord.RoleID(jailRole)); err != nil {
		t.Fatal(err)
	}
	w.start(t)

	id, err := w.s.CreateChannelAs(w.guild, w.owner, discordtest.ChannelGuildText, "announcements")
	if err != nil {
		t.Fatal(err)
	}
	want := discordtest.PermViewChannel | discordtest.PermSendMessages
	waitFor(t, "the jail role's overwrite", func() bool {
		c, _ := w.s.Channel(id)
		return len(c.PermissionOverwrites) == 1 && c.PermissionOverwrites[0].ID == jailRole && c.PermissionOverwrites[0].Deny == want
	})
	waitFor(t, "the overwrite in the audit-log channel", func() bool {
		msgs := w.s.Messages(auditlog)
		return len(msgs) == 1 && strings.Contains(string(msgs[0].Embeds[0]), "announcements")
	})
}

// TestPendingCasesReconciledAtStartUp: a crash between recording a case and acting leaves
// it pending; the next start settles it against Discord's state.
func TestPendingCasesReconciledAtStartUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, _ := w.services(t)
	ctx := context.Background()
	// The ban of the target went through before the crash; the ban of other never did.
	if err := w.s.BanAs(w.guild, w.owner, w.target, "by gavel, before the crash"); err != nil {
		t.Fatal(err)
	}
	pending := func(user discordtest.ID, typ cases.Type) cases.Case {
		c, err := cs.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(w.mod),
			Type: typ, Status: cases.Pending, Reason: "crashed"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	banned, notBanned := pending(w.target, cases.Ban), pending(w.other, cases.Ban)
	w.start(t, app.WithReconcileAge(time.Millisecond))

	for _, tc := range []struct {
		c    cases.Case
		want cases.Status
	}{{banned, cases.Active}, {notBanned, cases.Voided}} {
		c, want := tc.c, tc.want
		var got cases.Case
		waitFor(t, "the pending case settled", func() bool {
			var err error
			got, err = cs.Get(ctx, c.ID)
			return err == nil && got.Status != cases.Pending
		})
		if got.Status != want {
			t.Errorf("case #%d is %s; want %s", got.Number, got.Status, want)
		}
		evs, err := cs.Events(ctx, c.ID)
		if err != nil || len(evs) < 2 || !strings.HasPrefix(evs[1].Note, "reconciled at start-up: ") {
			t.Errorf("case #%d history = %+v, %v", got.Number, evs, err)
		}
	}
}

// TestYoungPendingCasesWait: a pending case younger than the reconcile age may be another
// process's action in flight; it is settled only once old enough.
func TestYoungPendingCasesWait(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, _ := w.services(t)
	ctx := context.Background()
	c, err := cs.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(w.other), ModeratorID: discord.UserID(w.mod),
		Type: cases.Kick, Status: cases.Pending, Reason: "in flight elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	// The age is judged, and the recheck waits, on the test's clock.
	const age = time.Hour
	clk := clock.NewManual(time.Now().UTC())
	w.start(t, app.WithClock(clk), app.WithReconcileAge(age))
	waitCtx, cancel := context.WithTimeout(ctx, eventBound)
	defer cancel()
	if err := clk.WaitArmedAfter(waitCtx, c.CreatedAt.Add(age-time.Minute)); err != nil {
		t.Fatalf("no recheck scheduled for when the case is old enough: %v", err)
	}
	if got, _ := cs.Get(ctx, c.ID); got.Status != cases.Pending {
		t.Fatalf("a case younger than the reconcile age was settled at once: %s", got.Status)
	}
	clk.Set(c.CreatedAt.Add(age))
	var got cases.Case
	waitFor(t, "the case settled once old enough", func() bool {
		got, err = cs.Get(ctx, c.ID)
		return err == nil && got.Status != cases.Pending
	})
	// other is still a member: the kick did not happen.
	if got.Status != cases.Voided {
		t.Errorf("case = %+v; want voided once %v old", got, age)
	}
}
