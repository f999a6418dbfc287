package moderation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store/query"
)

// The ban-on-join list holds the users a mass ban could not ban because Discord's cap on bans
// of non-members was reached (error 30035): whoever on it joins the server is banned on
// sight, a BAN case of its own that names the mass action, and leaves the list.

// BanOnJoinEntry is one user on a guild's ban-on-join list.
type BanOnJoinEntry struct {
	UserID      discord.UserID
	ModeratorID discord.UserID
	Reason      string
	// ParentCase is the id of the mass action's parent case (0 when none).
	ParentCase int64
}

// OnBanOnJoinList reports whether userID is on guildID's ban-on-join list.
func (co *Coordinator) OnBanOnJoinList(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (bool, error) {
	_, ok, err := co.banOnJoinEntry(ctx, guildID, userID)
	return ok, err
}

func (co *Coordinator) banOnJoinEntry(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (BanOnJoinEntry, bool, error) {
	if co.st == nil {
		return BanOnJoinEntry{}, false, nil
	}
	r, err := co.st.Queries().GetBanOnJoin(ctx, query.GetBanOnJoinParams{GuildID: int64(guildID), UserID: int64(userID)})
	if errors.Is(err, sql.ErrNoRows) {
		return BanOnJoinEntry{}, false, nil
	}
	if err != nil {
		return BanOnJoinEntry{}, false, fmt.Errorf("reading the ban-on-join list: %w", err)
	}
	return BanOnJoinEntry{UserID: discord.UserID(r.UserID), ModeratorID: discord.UserID(r.ModeratorID), Reason: r.Reason, ParentCase: r.ParentCaseID.Int64}, true, nil
}

// BanOnJoinList lists up to limit entries of a guild's ban-on-join list with user ids above
// after, and how many it holds in all.
func (co *Coordinator) BanOnJoinList(ctx context.Context, guildID discord.GuildID, after discord.UserID, limit int) ([]BanOnJoinEntry, int64, error) {
	if co.st == nil {
		return nil, 0, nil
	}
	q := co.st.Queries()
	rows, err := q.ListBanOnJoin(ctx, query.ListBanOnJoinParams{GuildID: int64(guildID), UserID: int64(after), Limit: int64(limit)})
	if err != nil {
		return nil, 0, fmt.Errorf("reading the ban-on-join list: %w", err)
	}
	n, err := q.CountBanOnJoin(ctx, int64(guildID))
	if err != nil {
		return nil, 0, fmt.Errorf("counting the ban-on-join list: %w", err)
	}
	out := make([]BanOnJoinEntry, len(rows))
	for i, r := range rows {
		out[i] = BanOnJoinEntry{UserID: discord.UserID(r.UserID), ModeratorID: discord.UserID(r.ModeratorID), Reason: r.Reason, ParentCase: r.ParentCaseID.Int64}
	}
	return out, n, nil
}

// BanOnSight bans a user who just joined if they are on the guild's ban-on-join list: a BAN
// case through the whole pipeline, gavel as its moderator and the mass action named in its
// reason, then the user leaves the list. ok is false, and nothing is done, for anyone else.
func (co *Coordinator) BanOnSight(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (Result, bool, error) {
	e, ok, err := co.banOnJoinEntry(ctx, guildID, userID)
	if err != nil || !ok {
		return Result{}, false, err
	}
	a, _ := co.cat.ByCase(cases.Ban)
	reason := fmt.Sprintf("On the ban-on-join list (by <@%d>): %s", e.ModeratorID, e.Reason)
	meta := map[string]string{"ban_on_join": "true"}
	if e.ParentCase != 0 {
		if p, err := co.cases.Get(ctx, e.ParentCase); err == nil {
			reason = fmt.Sprintf("On the ban-on-join list of mass ban case #%d: %s", p.Number, e.Reason)
			meta["mass_case"] = fmt.Sprint(p.Number)
		}
	}
	if len([]rune(reason)) > cases.MaxReasonLength {
		reason = string([]rune(reason)[:cases.MaxReasonLength])
	}
	res := co.Execute(ctx, Request{GuildID: guildID, Moderator: discord.User{ID: co.botID, Username: "gavel", Bot: true}, Action: a,
		Target: Target{ID: userID}, Reason: reason, Silent: true, Metadata: meta})
	if res.Case != nil && res.Case.Status == cases.Active {
		if _, err := co.st.WriteQueries().RemoveBanOnJoin(ctx, query.RemoveBanOnJoinParams{GuildID: int64(guildID), UserID: int64(userID)}); err != nil {
			return res, true, fmt.Errorf("taking %d off the ban-on-join list after the ban: %w", userID, err)
		}
	}
	return res, true, nil
}
