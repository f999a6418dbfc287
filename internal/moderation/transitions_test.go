package moderation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/store"
)

// banCalls counts the bans gavel made on Discord, from the audit log.
func (w expiring) banCalls() int {
	n := 0
	for _, e := range w.s.AuditLog(w.guild) {
		if e.ActionType == discordtest.AuditMemberBanAdd && e.UserID == w.s.BotID() {
			n++
		}
	}
	return n
}

func (w expiring) openKinds(t *testing.T, c cases.Case) []expiry.Kind {
	t.Helper()
	acts, err := w.svc.OfCase(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []expiry.Kind
	for _, a := range acts {
		if a.Open() {
			out = append(out, a.Kind)
		}
	}
	return out
}

// A ban of a tempbanned user makes the ban permanent: a BAN case (not "already banned"),
// no second Discord ban, and the tempban's unban superseded, so the minute passing unbans
// no one.
func TestBanMakesTempbanPermanent(t *testing.T) {
	t.Parallel()
	w := newExpiring(t, store.SQLite, expiry.Config{})
	tb := succeeded(t, w.run(t, w.alice, "tempban", w.bob, withDuration(time.Minute)), cases.Tempban)
	res := w.run(t, w.alice, "ban", w.bob)
	ban := succeeded(t, res, cases.Ban)
	if !strings.Contains(res.Reply.Content, "the ban is now permanent") || !strings.Contains(res.Reply.Content, "case #1") {
		t.Errorf("reply %q does not say what changed", res.Reply.Content)
	}
	if n := w.banCalls(); n != 1 {
		t.Errorf("gavel banned on Discord %d times; want once (the tempban's)", n)
	}
	if dms := w.dms(w.bob); len(dms) != 1 {
		t.Errorf("bob has %d DMs; want the tempban's only (he is out of reach)", len(dms))
	}
	if k := w.openKinds(t, tb); len(k) != 0 {
		t.Errorf("the tempban still has open expiries %v", k)
	}
	if e, ok := eventOf(w.events(t, tb.ID), cases.EventSuperseded); !ok || e.New != "#2" {
		t.Errorf("the tempban's history does not say case #%d superseded its unban: %+v", ban.Number, e)
	}
	w.advance(t, 2*time.Minute)
	if _, banned := w.s.Banned(w.guild, w.bob); !banned {
		t.Fatal("the tempban's expiry lifted the permanent ban")
	}
	// A second ban of the permanently banned is refused, saying how to set an end.
	if res := w.run(t, w.alice, "ban", w.bob); !res.Refused || !strings.Contains(res.Reply.Content, "already banned") || !strings.Contains(res.Reply.Content, "tempban") {
		t.Errorf("ban of the permanently banned: %+v", res)
	}
}

// A tempban of a banned user sets an end to the ban: a TEMPBAN case scheduling the unban,
// no Discord ban; a second tempban moves that end.
func TestTempbanSetsAndMovesEndOfBan(t *testing.T) {
	t.Parallel()
	w := newExpiring(t, store.SQLite, expiry.Config{})
	ban := succeeded(t, w.run(t, w.alice, "ban", w.bob), cases.Ban)
	res := w.run(t, w.alice, "tempban", w.bob, withDuration(time.Hour))
	tb := succeeded(t, res, cases.Tempban)
	if !strings.Contains(res.Reply.Content, "already banned by case #1, with no end; the ban now ends") {
		t.Errorf("reply %q does not say what changed", res.Reply.Content)
	}
	if k := w.openKinds(t, tb); len(k) != 1 || k[0] != expiry.Unban {
		t.Errorf("the tempban's open expiries %v; want its unban", k)
	}
	res = w.run(t, w.alice, "tempban", w.bob, withDuration(2*time.Hour))
	tb2 := succeeded(t, res, cases.Tempban)
	if !strings.Contains(res.Reply.Content, "by case #2; the ban now ends") || !strings.Contains(res.Reply.Content, "instead") {
		t.Errorf("reply %q does not say the end moved", res.Reply.Content)
	}
	if k := w.openKinds(t, tb); len(k) != 0 {
		t.Errorf("the first tempban still has open expiries %v", k)
	}
	if n := w.banCalls(); n != 1 {
		t.Errorf("gavel banned on Discord %d times; want once (case #%d)", n, ban.Number)
	}
	w.advance(t, time.Hour)
	if _, banned := w.s.Banned(w.guild, w.bob); !banned {
		t.Fatal("the moved unban ran at the first end")
	}
	w.advance(t, time.Hour)
	waitUntil(t, 10*time.Second, "the unban at the moved end", func() bool { _, banned := w.s.Banned(w.guild, w.bob); return !banned })
	waitUntil(t, 5*time.Second, "the second tempban processed", func() bool {
		c, err := w.cases.Get(context.Background(), tb2.ID)
		return err == nil && c.Processed
	})
}

// A timeout of a timed-out member moves the end of their timeout; the reply says from when
// to when, and the earlier case's end is superseded.
func TestTimeoutMovesTheEnd(t *testing.T) {
	t.Parallel()
	w := newExpiring(t, store.SQLite, expiry.Config{})
	first := succeeded(t, w.run(t, w.alice, "timeout", w.bob, withDuration(time.Hour)), cases.Timeout)
	res := w.run(t, w.alice, "timeout", w.bob, withDuration(3*time.Hour))
	second := succeeded(t, res, cases.Timeout)
	if !strings.Contains(res.Reply.Content, "already timed out until") || !strings.Contains(res.Reply.Content, "by case #1; the timeout now ends") {
		t.Errorf("reply %q does not say what changed", res.Reply.Content)
	}
	m, ok := w.s.Member(w.guild, w.bob)
	if !ok || m.CommunicationDisabledUntil == nil || !m.CommunicationDisabledUntil.Equal(second.ExpiresAt) {
		t.Errorf("bob's timeout ends %v; want %v", m.CommunicationDisabledUntil, second.ExpiresAt)
	}
	if k := w.openKinds(t, first); len(k) != 0 {
		t.Errorf("the first timeout still has open expiries %v", k)
	}
}

// Lifting a voided timed jail now (cases modify -status voided -lift) runs the unjail through
// the pipeline though a voided jail no longer decides the restriction: the roles come back,
// the UNJAIL case links the jail, which is processed and whose scheduled release is
// superseded.
func TestLiftVoidedJail(t *testing.T) {
	t.Parallel()
	w := newExpiring(t, store.SQLite, expiry.Config{})
	ctx := context.Background()
	jail := succeeded(t, w.run(t, w.alice, "jail", w.bob, withDuration(time.Hour)), cases.Jail)
	if _, err := w.svc.SetStatus(ctx, discord.GuildID(w.guild), jail.Number, discord.UserID(w.alice), cases.Voided, ""); err != nil {
		t.Fatal(err)
	}
	res := w.co.LiftCase(ctx, moderation.LiftRequest{GuildID: discord.GuildID(w.guild), Moderator: discord.User{ID: discord.UserID(w.alice), Username: "alice"}, Number: jail.Number})
	lift := succeeded(t, res, cases.Unjail)
	if lift.Metadata["lifts_case"] != "1" {
		t.Errorf("lift case metadata %v", lift.Metadata)
	}
	m, _ := w.s.Member(w.guild, w.bob)
	for _, r := range m.Roles {
		if r == w.jailed {
			t.Error("bob still has the jail role")
		}
	}
	c, err := w.cases.Get(ctx, jail.ID)
	if err != nil || !c.Processed || c.Status != cases.Voided {
		t.Errorf("the jail = %+v, %v; want voided and processed", c, err)
	}
	if k := w.openKinds(t, jail); len(k) != 0 {
		t.Errorf("the jail still has open expiries %v", k)
	}
	// Nothing is left to lift.
	if again := w.co.LiftCase(ctx, moderation.LiftRequest{GuildID: discord.GuildID(w.guild), Moderator: discord.User{ID: discord.UserID(w.alice), Username: "alice"}, Number: jail.Number}); !again.Refused || !strings.Contains(again.Reply.Content, "already ended") {
		t.Errorf("lifting again: %+v", again)
	}
	// A warning has nothing to lift.
	warn := succeeded(t, w.run(t, w.alice, "warn", w.carol), cases.Warn)
	if r := w.co.LiftCase(ctx, moderation.LiftRequest{GuildID: discord.GuildID(w.guild), Moderator: discord.User{ID: discord.UserID(w.alice), Username: "alice"}, Number: warn.Number}); !r.Refused || !strings.Contains(r.Reply.Content, "nothing lifts") {
		t.Errorf("lifting a warning: %+v", r)
	}
}
