package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Purge's limits.
const (
	// PurgeMin and PurgeMax bound how many messages one purge deletes (Tux's 1–500).
	PurgeMin = 1
	PurgeMax = 500
	// BulkDeleteMaxAge is the age past which Discord refuses to bulk-delete a message.
	BulkDeleteMaxAge = 14 * 24 * time.Hour
	// PurgeScanCap is how many messages a purge reads at most, looking for count messages of
	// one user: a filter that matches nothing must not page through a channel's whole history.
	PurgeScanCap = 5000
)

const (
	// bulkDeleteMargin keeps a message that would turn 14 days old between the scan and
	// the delete out of the bulk call, which Discord would refuse whole.
	bulkDeleteMargin = time.Minute
	// purgePage is Discord's largest page of messages and largest bulk delete.
	purgePage  = 100
	purgeColor = 0xE67E22
)

// purgeChannelTypes are the channels purge works in: those with a message history.
var purgeChannelTypes = map[discord.ChannelType]bool{
	discord.ChannelGuildText: true, discord.ChannelGuildVoice: true, discord.ChannelGuildAnnouncement: true,
	discord.ChannelPublicThread: true, discord.ChannelPrivateThread: true, discord.ChannelAnnouncementThread: true,
}

// purger runs purge; scanCap is PurgeScanCap, lowered by tests.
type purger struct {
	env     *Env
	scanCap int
}

func newPurge(env *Env) *Tool {
	p := &purger{env: env, scanCap: PurgeScanCap}
	return &Tool{Spec: purgeSpec(), Run: p.run}
}

func purgeSpec() *commands.Spec {
	return &commands.Spec{
		Name: "purge", Native: permissions.ManageMessages, Rank: 2,
		Aliases:     []string{"p"},
		Description: "Delete the newest messages of a channel (younger than 14 days), optionally only one user's.",
		Params: []commands.Param{
			{Name: "count", Description: "How many messages to delete, 1 to 500", Kind: commands.KindInt,
				Required: true, Positional: true, Min: PurgeMin, Max: PurgeMax},
			{Name: "user", Description: "Delete only this user's messages", Kind: commands.KindUser, Aliases: []string{"u"}},
			{Name: "channel", Description: "Where to delete (default: here)", Kind: commands.KindChannel, Aliases: []string{"c"}},
		},
	}
}

// purgeScan is what a scan of a channel found.
type purgeScan struct {
	// ids are the messages to delete, newest first.
	ids []int64
	// tooOld counts the messages that matched but are too old to bulk-delete.
	tooOld int
	// scanned is how many messages were read.
	scanned int
	// capped is true when the scan cap stopped the scan before count messages were found.
	capped bool
	// exhausted is true when the channel had no older messages left.
	exhausted bool
}

func (p *purger) run(ctx context.Context, call Call, args commands.Args) Reply {
	env := p.env
	count := int(args.Int("count"))
	if count < PurgeMin || count > PurgeMax {
		return Text(Refused, "Give a number of messages from %d to %d, not %d. Nothing was deleted.", PurgeMin, PurgeMax, count)
	}
	userID := args.ID("user")
	ch, err := targetChannel(ctx, env, call, args.ID("channel"), purgeChannelTypes, "purge messages in")
	if err != nil {
		return channelFailure(err, "Nothing was deleted.")
	}
	perms, err := botPermissionsIn(ctx, env, ch)
	if err != nil {
		r := Text(Failed, "I could not check my permissions in <#%d> (%s). Nothing was deleted; try again in a moment.", ch.ID, discordTrouble(err))
		r.Err = err
		return r
	}
	if missing := missingPerms(perms, permViewChannel|permManageMessages|permReadMessageHistory); missing != "" {
		return Text(Refused, "I need %s in <#%d> to purge messages there. Nothing was deleted; give gavel's role %s in that channel (or server-wide) and try again.",
			missing, ch.ID, missing)
	}

	now := env.Now()
	before := call.MessageID
	if before == 0 {
		at := call.At
		if at.IsZero() {
			at = now
		}
		// The slash form deletes what was there when the command was given.
		before = discord.MessageID(discord.SnowflakeAt(at))
	}
	scan, err := p.scan(ctx, ch.ID, int64(before), count, discord.UserID(userID), now)
	if err != nil {
		r := Text(Failed, "I could not read the messages of <#%d> (%s). Nothing was deleted; try again in a moment.", ch.ID, discordTrouble(err))
		r.Err = err
		return r
	}

	reason := moderation.AuditReason(call.User, purgeReasonText(len(scan.ids), discord.UserID(userID)))
	// The prefix form's own message goes too, uncounted; in the same channel it rides along
	// in the first bulk call (it is the newest message there).
	targets := scan.ids
	ownInBatch := call.MessageID != 0 && ch.ID == call.ChannelID
	if ownInBatch {
		targets = append([]int64{int64(call.MessageID)}, scan.ids...)
	}
	deleted, delErr := p.delete(ctx, ch.ID, targets, reason)
	if ownInBatch && deleted > 0 {
		deleted-- // the command's own message, deleted first
	}
	var notes []string
	if call.MessageID != 0 && !ownInBatch && delErr == nil {
		err := env.Exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
			return env.Port.DeleteMessage(ctx, call.ChannelID, call.MessageID, reason)
		})
		if err != nil && !discord.IsCode(err, discord.CodeUnknownMessage) {
			env.Log.Warn("purge: deleting the command's message", "guild", call.GuildID, "channel", call.ChannelID, "err", err)
			notes = append(notes, fmt.Sprintf("Your command's message could not be deleted (%s).", discordTrouble(err)))
		}
	}

	// A purge that deleted nothing changed nothing worth an entry.
	if deleted > 0 {
		if note := logToAuditChannel(ctx, env, call.GuildID, purgeAuditEmbed(call, ch.ID, discord.UserID(userID), count, deleted, scan, delErr)); note != "" {
			notes = append(notes, note)
		}
	}

	if delErr != nil {
		text := fmt.Sprintf("Deleted %s in <#%d> before Discord failed (%s); %d were not deleted. Run the command again to delete the rest.",
			messages(deleted), ch.ID, discordTrouble(delErr), len(scan.ids)-deleted)
		if deleted == 0 {
			text = fmt.Sprintf("No messages were deleted in <#%d>: %s. Try again in a moment.", ch.ID, discordTrouble(delErr))
		}
		r := Text(Failed, "%s", joinNotes(text, notes))
		r.Err = fmt.Errorf("purge %d in channel %d: %w", count, ch.ID, delErr)
		return r
	}
	r := Text(OK, "%s", joinNotes(purgeSummary(ch.ID, discord.UserID(userID), count, deleted, scan), notes))
	r.Transient = !call.Slash
	return r
}

// channelFailure turns targetChannel's error into the reply.
func channelFailure(err error, nothing string) Reply {
	var refusal *channelRefusal
	if errors.As(err, &refusal) {
		return Text(Refused, "%s %s", refusal.Problem, nothing)
	}
	r := Text(Failed, "I could not read the channel (%s). %s Try again in a moment.", discordTrouble(err), nothing)
	r.Err = err
	return r
}

// scan reads the channel newest first from before, in pages of 100, until count matching
// messages were found (those too old to delete count toward it: they are what the moderator
// asked for), the channel ends, or the scan cap is reached.
func (p *purger) scan(ctx context.Context, channelID discord.ChannelID, before int64, count int, userID discord.UserID, now time.Time) (purgeScan, error) {
	var s purgeScan
	cutoff := now.Add(-BulkDeleteMaxAge + bulkDeleteMargin)
	for s.scanned < p.scanCap {
		limit := min(purgePage, p.scanCap-s.scanned)
		if userID == 0 {
			// Every message matches: read no more than still needed.
			limit = min(limit, count-len(s.ids)-s.tooOld)
		}
		var page []discord.ChannelMessage
		err := p.env.Exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
			page, err = p.env.Port.ListMessages(ctx, channelID, discord.MessageQuery{Before: discord.MessageID(before), Limit: limit})
			return err
		})
		if err != nil {
			return purgeScan{}, fmt.Errorf("list messages of channel %d before %d: %w", channelID, before, err)
		}
		for _, m := range page {
			s.scanned++
			if userID != 0 && m.Author.ID != userID {
				continue
			}
			// Discord judges a message's age by its id, as here.
			if discord.SnowflakeTime(m.ID).Before(cutoff) {
				s.tooOld++
			} else {
				s.ids = append(s.ids, int64(m.ID))
			}
			if len(s.ids)+s.tooOld == count {
				return s, nil
			}
		}
		if len(page) < limit {
			s.exhausted = true
			return s, nil
		}
		before = int64(page[len(page)-1].ID)
	}
	s.capped = true
	return s, nil
}

// delete deletes ids (newest first) in bulk calls of up to 100, and returns how many were
// deleted before an error.
func (p *purger) delete(ctx context.Context, channelID discord.ChannelID, ids []int64, reason string) (int, error) {
	deleted := 0
	for start := 0; start < len(ids); start += purgePage {
		chunk := ids[start:min(start+purgePage, len(ids))]
		err := p.env.Exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
			return p.env.Port.BulkDelete(ctx, channelID, discord.IDs[discord.MessageID](chunk), reason)
		})
		// A single message is deleted on its own; gone already (a retry after a lost answer,
		// or another moderator) is what was wanted.
		if err != nil && !(len(chunk) == 1 && discord.IsCode(err, discord.CodeUnknownMessage)) {
			return deleted, fmt.Errorf("delete %d messages in channel %d: %w", len(chunk), channelID, err)
		}
		deleted += len(chunk)
	}
	return deleted, nil
}

// purgeReasonText is the audit-log reason after the moderator: "purge 12", "purge 3 from
// user 123".
func purgeReasonText(n int, userID discord.UserID) string {
	if userID != 0 {
		return fmt.Sprintf("purge %d from user %d", n, userID)
	}
	return fmt.Sprintf("purge %d", n)
}

func messages(n int) string { return count(n, "message", "messages") }

// purgeSummary is the reply: how many were deleted where, and why fewer than asked.
func purgeSummary(channelID discord.ChannelID, userID discord.UserID, count, deleted int, s purgeScan) string {
	from := ""
	if userID != 0 {
		from = fmt.Sprintf(" from <@%d>", userID)
	}
	var b strings.Builder
	if deleted == 0 {
		fmt.Fprintf(&b, "No messages%s to delete in <#%d>.", from, channelID)
	} else {
		fmt.Fprintf(&b, "Deleted %s%s in <#%d>.", messages(deleted), from, channelID)
	}
	if s.tooOld > 0 {
		verb := "were"
		if s.tooOld == 1 {
			verb = "was"
		}
		fmt.Fprintf(&b, " %s older than 14 days %s skipped: Discord deletes in bulk only messages younger than 14 days.",
			messages(s.tooOld), verb)
	}
	if s.capped {
		fmt.Fprintf(&b, " I stopped after looking through the newest %d messages of the channel, having found %d of the %d asked for.",
			s.scanned, deleted+s.tooOld, count)
	} else if s.exhausted && deleted+s.tooOld < count {
		fmt.Fprintf(&b, " There are no more messages%s there.", from)
	}
	return b.String()
}

// purgeAuditEmbed is the audit-log channel's entry: who, where, how many, with which filter.
func purgeAuditEmbed(call Call, channelID discord.ChannelID, userID discord.UserID, count, deleted int, s purgeScan, err error) discord.Embed {
	filter := "none"
	if userID != 0 {
		filter = fmt.Sprintf("messages of <@%d> (%d)", userID, userID)
	}
	e := discord.Embed{
		Title:       "Messages purged",
		Description: fmt.Sprintf("<@%d> deleted %s in <#%d>.", call.User.ID, messages(deleted), channelID),
		Color:       purgeColor,
		Fields: []discord.EmbedField{
			{Name: "Moderator", Value: fmt.Sprintf("%s (%d)", call.User.Username, call.User.ID), Inline: true},
			{Name: "Channel", Value: fmt.Sprintf("<#%d>", channelID), Inline: true},
			{Name: "Deleted", Value: fmt.Sprintf("%d of %d asked for", deleted, count), Inline: true},
			{Name: "Filter", Value: filter, Inline: true},
		},
		Timestamp: call.At,
	}
	if s.tooOld > 0 {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Skipped (older than 14 days)", Value: fmt.Sprint(s.tooOld), Inline: true})
	}
	if s.capped {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Scan", Value: fmt.Sprintf("stopped at the cap of %d messages", s.scanned), Inline: true})
	}
	if err != nil {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Stopped", Value: "Discord failed: " + discordTrouble(err)})
	}
	return e
}

func joinNotes(text string, notes []string) string {
	if len(notes) == 0 {
		return text
	}
	return text + "\n" + strings.Join(notes, "\n")
}
