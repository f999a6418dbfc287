package tools

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// Ids of the channel tools' test guild.
const (
	ctGuild   int64 = 900000000000000100
	ctOwner   int64 = 900000000000000201
	tMod      int64 = 900000000000000202
	tSpammer  int64 = 900000000000000203
	ctBot     int64 = 900000000000000299
	ctBotRole int64 = 900000000000000301
	ctGeneral int64 = 900000000000000401
	tAuditLog int64 = 900000000000000402
	tOther    int64 = 900000000000000403 // a channel of another guild
)

// chanPort is an in-memory discord.Port for the channel tools: channels, their messages,
// the guild's roles and gavel's member, and a record of what was deleted and set. Methods
// the tools do not call panic (through the nil embedded Port).
type chanPort struct {
	discord.Port
	mu       sync.Mutex
	guild    discord.Guild
	bot      discord.Member
	channels map[int64]*discord.Channel
	msgs     map[int64][]discord.ChannelMessage // ascending by id
	// bulkCalls records each BulkDelete: the ids and the reason.
	bulkCalls []bulkCall
	deletes   []int64
	sent      map[int64][]discord.Message
	slowmodes []int
	reasons   []string
	// failBulk makes the BulkDelete calls from the n-th (1-based) on fail with err.
	failBulkFrom int
	failBulkErr  error
	failChannel  error
}

type bulkCall struct {
	ids    []int64
	reason string
}

func newChanPort() *chanPort {
	p := &chanPort{
		guild: discord.Guild{ID: discord.GuildID(ctGuild), OwnerID: discord.UserID(ctOwner), Roles: []discord.Role{
			{ID: discord.RoleID(ctGuild), Name: "@everyone", Permissions: permViewChannel | permReadMessageHistory},
			{ID: discord.RoleID(ctBotRole), Name: "gavel", Position: 2, Permissions: permManageMessages | permManageChannels},
		}},
		bot:      discord.Member{User: discord.User{ID: discord.UserID(ctBot), Username: "gavel", Bot: true}, Roles: []discord.RoleID{discord.RoleID(ctBotRole)}},
		channels: map[int64]*discord.Channel{},
		msgs:     map[int64][]discord.ChannelMessage{},
		sent:     map[int64][]discord.Message{},
	}
	p.channels[ctGeneral] = &discord.Channel{ID: discord.ChannelID(ctGeneral), GuildID: discord.GuildID(ctGuild), Type: discord.ChannelGuildText, Name: "general"}
	p.channels[tAuditLog] = &discord.Channel{ID: discord.ChannelID(tAuditLog), GuildID: discord.GuildID(ctGuild), Type: discord.ChannelGuildText, Name: "audit"}
	p.channels[tOther] = &discord.Channel{ID: discord.ChannelID(tOther), GuildID: discord.GuildID(ctGuild + 1), Type: discord.ChannelGuildText, Name: "elsewhere"}
	return p
}

func (p *chanPort) addChannel(c discord.Channel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.channels[int64(c.ID)] = &c
}

// add puts a message by author at a time in a channel and returns its id.
func (p *chanPort) add(channel, author int64, at time.Time) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := discord.SnowflakeAt(at)
	for slices.ContainsFunc(p.msgs[channel], func(m discord.ChannelMessage) bool { return m.ID == discord.MessageID(id) }) {
		id++
	}
	p.msgs[channel] = append(p.msgs[channel], discord.ChannelMessage{ID: discord.MessageID(id), ChannelID: discord.ChannelID(channel), Author: discord.User{ID: discord.UserID(author)}, Timestamp: at})
	sort.Slice(p.msgs[channel], func(i, j int) bool { return p.msgs[channel][i].ID < p.msgs[channel][j].ID })
	return id
}

func (p *chanPort) live(channel int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.msgs[channel])
}

func (p *chanPort) Channel(_ context.Context, id discord.ChannelID) (discord.Channel, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failChannel != nil {
		return discord.Channel{}, p.failChannel
	}
	c, ok := p.channels[int64(id)]
	if !ok {
		return discord.Channel{}, &discord.Error{Op: "get channel", Status: http.StatusNotFound, Code: discord.CodeUnknownChannel, Message: "Unknown Channel"}
	}
	return *c, nil
}

func (p *chanPort) Guild(context.Context, discord.GuildID) (discord.Guild, error) {
	return p.guild, nil
}

func (p *chanPort) Member(_ context.Context, _ discord.GuildID, user discord.UserID) (discord.Member, error) {
	if user != discord.UserID(ctBot) {
		return discord.Member{}, &discord.Error{Op: "get member", Status: http.StatusNotFound, Code: discord.CodeUnknownMember}
	}
	return p.bot, nil
}

func (p *chanPort) ListMessages(_ context.Context, channel discord.ChannelID, q discord.MessageQuery) ([]discord.ChannelMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if q.Limit < 1 || q.Limit > 100 {
		return nil, &discord.Error{Op: "list messages", Status: http.StatusBadRequest, Message: "bad limit"}
	}
	var out []discord.ChannelMessage
	ms := p.msgs[int64(channel)]
	for i := len(ms) - 1; i >= 0 && len(out) < q.Limit; i-- {
		if q.Before == 0 || ms[i].ID < q.Before {
			out = append(out, ms[i])
		}
	}
	return out, nil
}

func (p *chanPort) BulkDelete(_ context.Context, channel discord.ChannelID, ids []discord.MessageID, reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bulkCalls = append(p.bulkCalls, bulkCall{ids: discord.Int64s(slices.Clone(ids)), reason: reason})
	if p.failBulkFrom > 0 && len(p.bulkCalls) >= p.failBulkFrom {
		return p.failBulkErr
	}
	if len(ids) > 100 {
		return &discord.Error{Op: "bulk delete", Status: http.StatusBadRequest, Message: "more than 100"}
	}
	p.msgs[int64(channel)] = slices.DeleteFunc(p.msgs[int64(channel)], func(m discord.ChannelMessage) bool { return slices.Contains(ids, m.ID) })
	return nil
}

func (p *chanPort) DeleteMessage(_ context.Context, channel discord.ChannelID, id discord.MessageID, reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deletes = append(p.deletes, int64(id))
	p.msgs[int64(channel)] = slices.DeleteFunc(p.msgs[int64(channel)], func(m discord.ChannelMessage) bool { return m.ID == id })
	return nil
}

func (p *chanPort) SendMessage(_ context.Context, channel discord.ChannelID, msg discord.Message) (discord.MessageID, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent[int64(channel)] = append(p.sent[int64(channel)], msg)
	return discord.MessageID(len(p.sent[int64(channel)])), nil
}

func (p *chanPort) SetSlowmode(_ context.Context, channel discord.ChannelID, secs int, reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slowmodes = append(p.slowmodes, secs)
	p.reasons = append(p.reasons, reason)
	p.channels[int64(channel)].RateLimitPerUser = secs
	return nil
}

func (p *chanPort) auditEntries() []discord.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent[tAuditLog])
}

// chanEnv is an Env over a chanPort and a real SQLite store whose guild has an audit-log
// channel.
func chanEnv(t *testing.T, port *chanPort, now time.Time) *Env {
	t.Helper()
	st := storetest.Open(t, store.SQLite)
	set := settings.NewService(st)
	if _, err := set.SetChannel(context.Background(), discord.GuildID(ctGuild), discord.UserID(ctOwner), settings.AuditLog, discord.ChannelID(tAuditLog)); err != nil {
		t.Fatal(err)
	}
	env := &Env{Port: port, Settings: set, Exec: executor.New(executor.WithRetries(1, time.Millisecond, time.Millisecond)),
		Now: func() time.Time { return now }, BotID: discord.UserID(ctBot)}
	NewSet(env) // fills in the defaults
	return env
}

func modCall(now time.Time, slash bool) Call {
	c := Call{GuildID: discord.GuildID(ctGuild), ChannelID: discord.ChannelID(ctGeneral), User: discord.User{ID: discord.UserID(tMod), Username: "mod"}, Prefix: "$", Slash: slash, At: now}
	return c
}

// parse runs the prefix parser, as the app does, so the tests use the real front-end.
func parse(t *testing.T, spec *commands.Spec, line string) commands.Args {
	t.Helper()
	args, ok, err := commands.ParsePrefix([]*commands.Spec{spec.Link()}, "$", line)
	if !ok || err != nil {
		t.Fatalf("ParseTool(%q) = ok %v, err %v", line, ok, err)
	}
	return args
}

func wantText(t *testing.T, r Reply, outcome Outcome, parts ...string) {
	t.Helper()
	if r.Outcome != outcome {
		t.Errorf("outcome = %q; want %q (reply %q, err %v)", r.Outcome, outcome, r.Message.Content, r.Err)
	}
	for _, p := range parts {
		if !strings.Contains(r.Message.Content, p) {
			t.Errorf("reply %q does not contain %q", r.Message.Content, p)
		}
	}
	if r.Message.AllowedMentions == nil {
		t.Error("the reply does not set allowed_mentions")
	}
}
