package raid_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestRecordResumed: a mass ban on a raid's candidates continued after a restart writes its
// outcome into the raid's record (who was banned, with the child case; who failed); a
// candidate it never reached keeps its state; a mass action naming no raid changes nothing.
// On both engines.
func TestRecordResumed(t *testing.T) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			st := storetest.Open(t, engine)
			ctx := context.Background()
			cs := cases.NewService(st)
			const guild, bot, mod = discord.GuildID(700000000000000100), discord.UserID(700000000000000300), discord.UserID(700000000000000202)
			users := []discord.UserID{700000000000000501, 700000000000000502, 700000000000000503}
			raidCase, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: bot, ModeratorID: bot, Type: cases.Raid, Reason: "Raid detected"})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UnixMilli()
			err = st.InTx(ctx, func(tx *store.Tx) error {
				q := tx.Queries()
				r, err := q.InsertRaid(tx.Context(), query.InsertRaidParams{GuildID: int64(guild), Number: 1, CaseID: raidCase.ID, Trigger: "rate", StartedAt: now, StartedBy: int64(bot), LastJoinAt: now})
				if err != nil {
					return err
				}
				for _, u := range users {
					if _, err := q.InsertRaidMember(tx.Context(), query.InsertRaidMemberParams{RaidID: r.ID, UserID: int64(u), Username: "raider", JoinedAt: now, AccountCreatedAt: now, UpdatedAt: now}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			svc := raid.New(raid.Config{Store: st, Cases: cs, Settings: settings.NewService(st)})
			svc.SetBot(bot) // at READY, before the mass actions are continued
			parent, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: mod, ModeratorID: mod, Type: cases.Note, Reason: "raid:1",
				Metadata: map[string]string{cases.MetaMass: "ban", "raid": "1", cases.MetaParentCase: strconv.FormatInt(raidCase.Number, 10), cases.MetaModeratorName: "mod"}})
			if err != nil {
				t.Fatal(err)
			}
			child, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: users[0], ModeratorID: mod, Type: cases.Ban, Reason: "raid:1",
				Metadata: map[string]string{cases.MetaParentCase: strconv.FormatInt(parent.Number, 10)}})
			if err != nil {
				t.Fatal(err)
			}
			// A mass action of no raid: nothing to write.
			other := parent
			other.Metadata = map[string]string{cases.MetaMass: "ban"}
			if err := svc.RecordResumed(ctx, moderation.MassResult{Parent: &other, Done: map[discord.UserID]int64{users[2]: child.ID}}); err != nil {
				t.Fatal(err)
			}
			res := moderation.MassResult{Parent: &parent, Done: map[discord.UserID]int64{users[0]: child.ID},
				Failures: map[string][]discord.UserID{"not permitted": {users[1]}}}
			if err := svc.RecordResumed(ctx, res); err != nil {
				t.Fatal(err)
			}
			r, err := svc.ByNumber(ctx, guild, 1)
			if err != nil {
				t.Fatal(err)
			}
			got := map[discord.UserID]query.RaidMember{}
			for _, m := range r.Members {
				got[discord.UserID(m.UserID)] = m
			}
			if m := got[users[0]]; m.State != "banned" || !m.CaseID.Valid || m.CaseID.Int64 != child.ID {
				t.Errorf("banned raider: %+v", m)
			}
			if m := got[users[1]]; m.State != "failed" {
				t.Errorf("failed raider: %+v", m)
			}
			if m := got[users[2]]; m.State != "candidate" {
				t.Errorf("raider the mass action never reached: %+v", m)
			}
			last := r.Events[len(r.Events)-1]
			if last.Kind != "mass_ban" || last.ActorID != int64(mod) {
				t.Errorf("last step %+v", last)
			}
		})
	}
}
