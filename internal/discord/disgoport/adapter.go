// Package disgoport implements discord.Port over disgo v0.19.6's REST client, with a rate
// limiter of gavel's own (Limiter) and every failure mapped to a *discord.Error.
//
// It uses disgo for what disgo does well — endpoints and their rate-limit buckets, the
// *rest.Error of a failure — makes the requests itself (do), and works around what disgo
// does not do well (docs/discord.md lists the traps): its limiter races and retries 429s
// itself, its default allowed_mentions pings everyone, and it fails decoding a 204 when
// handed a response struct. Requests and
// responses are gavel's own small JSON structs (wire.go), so the port's callers never see a
// disgo type.
package disgoport

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/disgoorg/disgo/bot"
	dgo "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"

	"github.com/gavelbot/gavel/internal/discord"
)

// DefaultAPIURL is Discord's REST API, version 10.
const DefaultAPIURL = "https://discord.com/api/v10"

// maxReason is how many characters Discord keeps of an X-Audit-Log-Reason.
const maxReason = 512

// Adapter is discord.Port over disgo's REST client. It is safe for concurrent use.
type Adapter struct {
	client  rest.Client
	rest    rest.Rest
	limiter *Limiter
	appID   int64
	once    sync.Once
	dms     dmChannels
	// What do needs to make a request itself: the client's transport, called directly
	// (send says why), and its Timeout, which do applies as a deadline.
	transport http.RoundTripper
	timeout   time.Duration
	apiURL    string
	userAgent []string
	auth      []string
}

var _ discord.Port = (*Adapter)(nil)

// Option configures an Adapter.
type Option func(*config)

type config struct {
	apiURL     string
	appID      int64
	httpClient *http.Client
	logger     *slog.Logger
	limiter    *Limiter
	userAgent  string
}

// WithAPIURL sets the REST base URL, version included (default DefaultAPIURL); tests pass
// the fake's.
func WithAPIURL(url string) Option { return func(c *config) { c.apiURL = strings.TrimRight(url, "/") } }

// WithApplicationID sets the application id used for interaction follow-ups and command
// registration (default: read from the token's first segment, as disgo does).
func WithApplicationID(id int64) Option { return func(c *config) { c.appID = id } }

// WithHTTPClient sets the HTTP client (default: 20 s timeout per request, as disgo's). The
// port's own calls use its Transport and Timeout; its redirect policy and cookie jar serve
// only disgo's typed API (Rest), since Discord's API neither redirects nor sets cookies.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithLogger sets the logger disgo's REST client writes to (its typed API, Rest; the
// port's own calls return their errors instead).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithLimiter sets the rate limiter (default NewLimiter()), e.g. to share one between
// adapters of the same bot token.
func WithLimiter(l *Limiter) Option { return func(c *config) { c.limiter = l } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *config) { c.userAgent = ua } }

// New returns an Adapter for a bot token.
func New(token string, opts ...Option) (*Adapter, error) {
	c := config{apiURL: DefaultAPIURL, userAgent: "DiscordBot (https://github.com/gavelbot/gavel, 1)"}
	for _, o := range opts {
		o(&c)
	}
	if token == "" {
		return nil, errors.New("disgoport: no bot token")
	}
	if c.appID == 0 {
		id, err := applicationID(token)
		if err != nil {
			return nil, err
		}
		c.appID = id
	}
	if c.limiter == nil {
		c.limiter = NewLimiter()
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Timeout: 20 * time.Second}
	}
	clientOpts := []rest.ClientConfigOpt{rest.WithURL(c.apiURL), rest.WithRateLimiter(c.limiter),
		rest.WithHTTPClient(c.httpClient), rest.WithUserAgent(c.userAgent)}
	if c.logger != nil {
		clientOpts = append(clientOpts, rest.WithLogger(c.logger))
	}
	client := rest.NewClient(token, clientOpts...)
	transport := c.httpClient.Transport
	if transport == nil {
		transport = http.DefaultTransport // as http.Client's
	}
	// Parse nothing by default, so that a message sent through disgo's typed API (the bot
	// client shares it) pings no one unless it says so.
	none := dgo.AllowedMentions{Parse: []dgo.AllowedMentionType{}, Users: []snowflake.ID{}, Roles: []snowflake.ID{}}
	return &Adapter{
		client:  client,
		rest:    rest.New(client, rest.WithDefaultAllowedMentions(none)),
		limiter: c.limiter,
		appID:   c.appID,

		transport: transport,
		timeout:   c.httpClient.Timeout,
		apiURL:    c.apiURL,
		userAgent: []string{c.userAgent},
		auth:      []string{dgo.TokenTypeBot.Apply(token)},
	}, nil
}

// applicationID reads the application id from a bot token's first segment (base64 of the
// id, as disgo expects).
func applicationID(token string) (int64, error) {
	first, _, _ := strings.Cut(token, ".")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.StdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(first); err == nil {
			if id, err := strconv.ParseInt(string(b), 10, 64); err == nil && id > 0 {
				return id, nil
			}
		}
	}
	return 0, errors.New("disgoport: the token's first segment is not a base64 application id; pass WithApplicationID")
}

// Rest is disgo's typed REST API over the adapter's client, parsing no mentions by default.
func (a *Adapter) Rest() rest.Rest { return a.rest }

// BotOptions makes a disgo bot client use the adapter's REST client, so the bot's own calls
// share the Limiter and parse no mentions by default. Both options are needed: with only
// bot.WithRest, disgo still builds a REST client of its own, whose rate limiter starts a
// goroutine that never ends.
func (a *Adapter) BotOptions() []bot.ConfigOpt {
	return []bot.ConfigOpt{bot.WithRestClient(a.rest), bot.WithRest(a.rest)}
}

// Limiter returns the adapter's rate limiter.
func (a *Adapter) Limiter() *Limiter { return a.limiter }

// ApplicationID is the bot's application id.
func (a *Adapter) ApplicationID() int64 { return a.appID }

// Close waits for requests in flight to finish (or ctx to end) and closes idle
// connections. Calling it again does nothing.
func (a *Adapter) Close(ctx context.Context) {
	a.once.Do(func() { a.client.Close(ctx) })
}

// auditReason makes a reason fit X-Audit-Log-Reason: valid UTF-8, at most 512 characters
// (cut at a character boundary), then URL-encoded by rest.WithReason.
func auditReason(reason string) string {
	reason = strings.ToValidUTF8(strings.TrimSpace(reason), "\uFFFD")
	if utf8.RuneCountInString(reason) <= maxReason {
		return reason
	}
	n := 0
	for i := range reason {
		if n == maxReason {
			return reason[:i]
		}
		n++
	}
	return reason
}

// call is one request: its endpoint, body, where to decode the response (nil for 204
// endpoints), and the audit-log reason.
type call struct {
	op       string
	endpoint *rest.CompiledEndpoint
	body     any
	out      any
	reason   string
}

// do makes one call and maps its failure (mapError).
//
// It makes the request itself rather than through disgo's client.Do, with the same limiter,
// HTTP client (its transport counts the calls) and errors (*rest.Error): disgo's copies
// every request and response body into a string for a debug log line whether or not it is
// logged, clones the request for its context and grows the response body from 512 bytes,
// all on every command's four to six calls. Like disgo's with MaxRetries 0 (Limiter), it never
// sends a request again: a 429 comes back as a *rest.Error for the executor to decide.
func (a *Adapter) do(ctx context.Context, c call) error {
	return mapError(c.op, a.send(ctx, c))
}

var jsonContentType = []string{"application/json"}

func (a *Adapter) send(ctx context.Context, c call) error {
	var body []byte
	if c.body != nil {
		var err error
		if body, err = json.Marshal(c.body); err != nil {
			return fmt.Errorf("failed to marshal request body: %w", err)
		}
	}
	if err := a.limiter.Wait(ctx, c.endpoint); err != nil {
		return fmt.Errorf("error locking bucket in rest client: %w", err)
	}
	// The client's Timeout as a deadline of the request's own, from here (after the wait,
	// as the client's would): net/http enforces a Timeout with a goroutine and a timer per
	// request when the transport is not its own, and the metrics wrap it. A caller's
	// deadline that comes first (a DM's timeout) ends the request before it could, so
	// then there is no context, timer and registration with the caller's to make.
	if d, ok := ctx.Deadline(); a.timeout > 0 && (!ok || time.Until(d) > a.timeout) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	rq, err := http.NewRequestWithContext(ctx, c.endpoint.Endpoint.Method, a.apiURL+c.endpoint.URL, bytes.NewReader(body))
	if err != nil {
		_ = a.limiter.Unlock(c.endpoint, nil)
		return err
	}
	// Set directly: the names are already canonical.
	rq.Header["User-Agent"] = a.userAgent
	if body != nil {
		rq.Header["Content-Type"] = jsonContentType
	}
	if c.endpoint.Endpoint.BotAuth {
		rq.Header["Authorization"] = a.auth
	}
	if r := auditReason(c.reason); r != "" {
		// As rest.WithReason encodes it.
		rq.Header["X-Audit-Log-Reason"] = []string{strings.ReplaceAll(url.QueryEscape(r), "+", " ")}
	}
	// The transport's RoundTrip, not http.Client.Do: the client's redirect handling (the
	// header copy kept for a redirect, its checks) cost about 17 allocations a call, and
	// Discord's API does not redirect (a 3xx comes back as any other non-2xx answer, a
	// *rest.Error). A failure is wrapped in a *url.Error as Do wraps it, which mapError
	// reads as no response.
	rs, err := a.transport.RoundTrip(rq)
	if err != nil {
		_ = a.limiter.Unlock(c.endpoint, nil)
		return fmt.Errorf("error doing request in rest client: %w", &url.Error{Op: urlErrorOp(rq.Method), URL: rq.URL.String(), Err: err})
	}
	defer rs.Body.Close()
	if err := a.limiter.Unlock(c.endpoint, rs); err != nil {
		return fmt.Errorf("error unlocking bucket in rest client: %w", err)
	}
	ok := rs.StatusCode >= http.StatusOK && rs.StatusCode < http.StatusMultipleChoices
	if ok && c.out == nil {
		// Read to the end all the same, so that the connection is reused.
		_, err = io.Copy(io.Discard, rs.Body)
		return err
	}
	raw, err := readBody(rs)
	if err != nil {
		return fmt.Errorf("error reading response body in rest client: %w", err)
	}
	if !ok {
		re := &rest.Error{Request: rq, RqBody: body, Response: rs, RsBody: raw}
		_ = json.Unmarshal(raw, re)
		return re
	}
	if id, ok := c.out.(*wireID); ok {
		err = id.read(raw)
	} else {
		err = json.Unmarshal(raw, c.out)
	}
	if err != nil {
		return fmt.Errorf("error unmarshalling response body: %w", err)
	}
	return nil
}

// urlErrorOp is the Op of the *url.Error http.Client wraps a failure in: "Get", "Post", ….
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// readBody reads a response's body in one allocation when its length is known.
func readBody(rs *http.Response) ([]byte, error) {
	if n := rs.ContentLength; n >= 0 && n < 1<<24 {
		b := make([]byte, n)
		if _, err := io.ReadFull(rs.Body, b); err != nil {
			return nil, err
		}
		// Past the announced length there is nothing, but the reader must see EOF for
		// the connection to be reused.
		_, _ = io.Copy(io.Discard, rs.Body)
		return b, nil
	}
	// Unknown length (a chunked answer): read into a kept buffer and copy out at the size
	// read, one allocation where io.ReadAll's growth from 512 bytes made several.
	buf := bodyBufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(rs.Body)
	b := append([]byte{}, buf.Bytes()...)
	if buf.Cap() <= maxKeptBody {
		bodyBufs.Put(buf)
	}
	return b, err
}

// bodyBufs are readBody's buffers; one larger than maxKeptBody is let go.
var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxKeptBody = 64 << 10

// query builds query values from pairs, leaving out zero values.
func query(pairs ...any) dgo.QueryValues {
	q := dgo.QueryValues{}
	for i := 0; i+1 < len(pairs); i += 2 {
		switch v := pairs[i+1].(type) {
		case int64:
			if v != 0 {
				q[pairs[i].(string)] = strconv.FormatInt(v, 10)
			}
		case int:
			if v != 0 {
				q[pairs[i].(string)] = strconv.Itoa(v)
			}
		}
	}
	return q
}

// Ban implements discord.Port.
func (a *Adapter) Ban(ctx context.Context, guildID discord.GuildID, userID discord.UserID, deleteMessageSeconds int, reason string) error {
	body := struct {
		DeleteMessageSeconds int `json:"delete_message_seconds"`
	}{deleteMessageSeconds}
	return a.do(ctx, call{op: "ban", endpoint: rest.AddBan.Compile(nil, guildID, userID), body: body, reason: reason})
}

// Unban implements discord.Port.
func (a *Adapter) Unban(ctx context.Context, guildID discord.GuildID, userID discord.UserID, reason string) error {
	return a.do(ctx, call{op: "unban", endpoint: rest.DeleteBan.Compile(nil, guildID, userID), reason: reason})
}

// GetBan implements discord.Port.
func (a *Adapter) GetBan(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (discord.Ban, bool, error) {
	var b wireBan
	err := a.do(ctx, call{op: "get ban", endpoint: rest.GetBan.Compile(nil, guildID, userID), out: &b})
	if discord.IsCode(err, discord.CodeUnknownBan) {
		return discord.Ban{}, false, nil
	}
	if err != nil {
		return discord.Ban{}, false, err
	}
	return b.ban(), true, nil
}

// ListBans implements discord.Port.
func (a *Adapter) ListBans(ctx context.Context, guildID discord.GuildID, after discord.UserID, limit int) ([]discord.Ban, error) {
	var bans []wireBan
	ep := rest.GetBans.Compile(query("after", int64(after), "limit", limit), guildID)
	if err := a.do(ctx, call{op: "list bans", endpoint: ep, out: &bans}); err != nil {
		return nil, err
	}
	out := make([]discord.Ban, len(bans))
	for i := range bans {
		out[i] = bans[i].ban()
	}
	return out, nil
}

// BulkBan implements discord.Port.
func (a *Adapter) BulkBan(ctx context.Context, guildID discord.GuildID, userIDs []discord.UserID, deleteMessageSeconds int, reason string) (discord.BulkBanResult, error) {
	ids := make([]string, len(userIDs))
	for i, id := range userIDs {
		ids[i] = id.String()
	}
	body := struct {
		UserIDs              []string `json:"user_ids"`
		DeleteMessageSeconds int      `json:"delete_message_seconds"`
	}{ids, deleteMessageSeconds}
	var out struct {
		Banned []snowflake.ID `json:"banned_users"`
		Failed []snowflake.ID `json:"failed_users"`
	}
	if err := a.do(ctx, call{op: "bulk ban", endpoint: rest.BulkBan.Compile(nil, guildID), body: body, out: &out, reason: reason}); err != nil {
		return discord.BulkBanResult{}, err
	}
	res := discord.BulkBanResult{Banned: make([]discord.UserID, len(out.Banned)), Failed: make([]discord.UserID, len(out.Failed))}
	for i, id := range out.Banned {
		res.Banned[i] = discord.UserID(id)
	}
	for i, id := range out.Failed {
		res.Failed[i] = discord.UserID(id)
	}
	return res, nil
}

// Kick implements discord.Port.
func (a *Adapter) Kick(ctx context.Context, guildID discord.GuildID, userID discord.UserID, reason string) error {
	return a.do(ctx, call{op: "kick", endpoint: rest.RemoveMember.Compile(nil, guildID, userID), reason: reason})
}

// Timeout implements discord.Port.
func (a *Adapter) Timeout(ctx context.Context, guildID discord.GuildID, userID discord.UserID, until time.Time, reason string) error {
	body := struct {
		Until *string `json:"communication_disabled_until"` // null lifts the timeout
	}{}
	if !until.IsZero() {
		s := until.UTC().Format(time.RFC3339Nano)
		body.Until = &s
	}
	// Modify Guild Member answers with the member, which gavel does not need: out stays nil.
	return a.do(ctx, call{op: "timeout", endpoint: rest.UpdateMember.Compile(nil, guildID, userID), body: body, reason: reason})
}

// Member implements discord.Port.
func (a *Adapter) Member(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (discord.Member, error) {
	var m wireMember
	if err := a.do(ctx, call{op: "get member", endpoint: rest.GetMember.Compile(nil, guildID, userID), out: &m}); err != nil {
		return discord.Member{}, err
	}
	return m.member(), nil
}

// ListMembers implements discord.Port.
func (a *Adapter) ListMembers(ctx context.Context, guildID discord.GuildID, after discord.UserID, limit int) ([]discord.Member, error) {
	var ms []wireMember
	ep := rest.GetMembers.Compile(query("after", int64(after), "limit", limit), guildID)
	if err := a.do(ctx, call{op: "list members", endpoint: ep, out: &ms}); err != nil {
		return nil, err
	}
	out := make([]discord.Member, len(ms))
	for i := range ms {
		out[i] = ms[i].member()
	}
	return out, nil
}

// User implements discord.Port.
func (a *Adapter) User(ctx context.Context, userID discord.UserID) (discord.User, error) {
	var u wireUser
	if err := a.do(ctx, call{op: "get user", endpoint: rest.GetUser.Compile(nil, userID), out: &u}); err != nil {
		return discord.User{}, err
	}
	return u.user(), nil
}

// Guild implements discord.Port.
func (a *Adapter) Guild(ctx context.Context, guildID discord.GuildID) (discord.Guild, error) {
	var g wireGuild
	if err := a.do(ctx, call{op: "get guild", endpoint: rest.GetGuild.Compile(nil, guildID), out: &g}); err != nil {
		return discord.Guild{}, err
	}
	return g.guild(), nil
}

// Channel implements discord.Port.
func (a *Adapter) Channel(ctx context.Context, channelID discord.ChannelID) (discord.Channel, error) {
	var c wireChannel
	if err := a.do(ctx, call{op: "get channel", endpoint: rest.GetChannel.Compile(nil, channelID), out: &c}); err != nil {
		return discord.Channel{}, err
	}
	return c.channel(), nil
}

// GuildChannels implements discord.Port.
func (a *Adapter) GuildChannels(ctx context.Context, guildID discord.GuildID) ([]discord.Channel, error) {
	var cs []wireChannel
	if err := a.do(ctx, call{op: "list channels", endpoint: rest.GetGuildChannels.Compile(nil, guildID), out: &cs}); err != nil {
		return nil, err
	}
	out := make([]discord.Channel, len(cs))
	for i := range cs {
		out[i] = cs[i].channel()
	}
	return out, nil
}

// AddRole implements discord.Port.
func (a *Adapter) AddRole(ctx context.Context, guildID discord.GuildID, userID discord.UserID, roleID discord.RoleID, reason string) error {
	return a.do(ctx, call{op: "add role", endpoint: rest.AddMemberRole.Compile(nil, guildID, userID, roleID), reason: reason})
}

// RemoveRole implements discord.Port.
func (a *Adapter) RemoveRole(ctx context.Context, guildID discord.GuildID, userID discord.UserID, roleID discord.RoleID, reason string) error {
	return a.do(ctx, call{op: "remove role", endpoint: rest.RemoveMemberRole.Compile(nil, guildID, userID, roleID), reason: reason})
}

// SetRoles implements discord.Port.
func (a *Adapter) SetRoles(ctx context.Context, guildID discord.GuildID, userID discord.UserID, roleIDs []discord.RoleID, reason string) error {
	body := struct {
		Roles []sf `json:"roles"`
	}{sfs(roleIDs)}
	return a.do(ctx, call{op: "set roles", endpoint: rest.UpdateMember.Compile(nil, guildID, userID), body: body, reason: reason})
}

// SendDM implements discord.Port. The DM channel with a user is Discord's one channel for
// the pair, so it is opened once and remembered (dmChannels): a member warned again, or
// warned and then banned, costs one call fewer each time. A remembered channel Discord no
// longer knows (404: nothing was sent) is opened again and the message sent once more.
func (a *Adapter) SendDM(ctx context.Context, userID discord.UserID, msg discord.Message) (discord.MessageRef, error) {
	ch, known := a.dms.get(userID)
	if !known {
		var err error
		if ch, err = a.openDM(ctx, userID); err != nil {
			return discord.MessageRef{}, err
		}
	}
	body := newMessage(msg)
	var m wireID
	err := a.do(ctx, call{op: "send DM", endpoint: rest.CreateMessage.Compile(nil, int64(ch)), body: body, out: &m})
	if known && discord.AsError(err) != nil && discord.AsError(err).Status == http.StatusNotFound {
		a.dms.forget(userID)
		if ch, err = a.openDM(ctx, userID); err != nil {
			return discord.MessageRef{}, err
		}
		err = a.do(ctx, call{op: "send DM", endpoint: rest.CreateMessage.Compile(nil, int64(ch)), body: body, out: &m})
	}
	if err != nil {
		return discord.MessageRef{ChannelID: ch}, err
	}
	return discord.MessageRef{ChannelID: ch, MessageID: discord.MessageID(m.ID)}, nil
}

// openDM opens (or finds) the DM channel with userID and remembers it.
func (a *Adapter) openDM(ctx context.Context, userID discord.UserID) (discord.ChannelID, error) {
	var ch wireID
	body := struct {
		RecipientID sf `json:"recipient_id"`
	}{sf(userID)}
	if err := a.do(ctx, call{op: "open DM", endpoint: rest.CreateDMChannel.Compile(nil), body: body, out: &ch}); err != nil {
		return 0, err
	}
	a.dms.put(userID, discord.ChannelID(ch.ID))
	return discord.ChannelID(ch.ID), nil
}

// dmCacheMax bounds the remembered DM channels: about 40 bytes each in the map.
const dmCacheMax = 50_000

// dmChannels remembers the DM channel of each user DMed. When full it starts over rather
// than tracking use: the members DMed again are mostly those DMed lately, who come back at
// the cost of one call each.
type dmChannels struct {
	mu sync.Mutex
	m  map[discord.UserID]discord.ChannelID
}

func (d *dmChannels) get(u discord.UserID) (discord.ChannelID, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, ok := d.m[u]
	return ch, ok
}

func (d *dmChannels) put(u discord.UserID, ch discord.ChannelID) {
	if ch == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil || len(d.m) >= dmCacheMax {
		d.m = map[discord.UserID]discord.ChannelID{}
	}
	d.m[u] = ch
}

func (d *dmChannels) forget(u discord.UserID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, u)
}

// SendMessage implements discord.Port.
func (a *Adapter) SendMessage(ctx context.Context, channelID discord.ChannelID, msg discord.Message) (discord.MessageID, error) {
	var m wireID
	if err := a.do(ctx, call{op: "send message", endpoint: rest.CreateMessage.Compile(nil, channelID), body: newMessage(msg), out: &m}); err != nil {
		return 0, err
	}
	return discord.MessageID(m.ID), nil
}

// EditMessage implements discord.Port.
func (a *Adapter) EditMessage(ctx context.Context, channelID discord.ChannelID, messageID discord.MessageID, msg discord.Message) error {
	return a.do(ctx, call{op: "edit message", endpoint: rest.UpdateMessage.Compile(nil, channelID, messageID),
		body: replacement(msg)})
}

// DeleteMessage implements discord.Port.
func (a *Adapter) DeleteMessage(ctx context.Context, channelID discord.ChannelID, messageID discord.MessageID, reason string) error {
	return a.do(ctx, call{op: "delete message", endpoint: rest.DeleteMessage.Compile(nil, channelID, messageID), reason: reason})
}

// bulkDeleteMax is how many messages one bulk delete takes.
const bulkDeleteMax = 100

// BulkDelete implements discord.Port.
func (a *Adapter) BulkDelete(ctx context.Context, channelID discord.ChannelID, messageIDs []discord.MessageID, reason string) error {
	ids := slices.Clone(messageIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for len(ids) > 0 {
		n := min(len(ids), bulkDeleteMax)
		chunk := ids[:n]
		ids = ids[n:]
		if len(chunk) == 1 {
			// Bulk delete takes 2–100 messages.
			if err := a.DeleteMessage(ctx, channelID, chunk[0], reason); err != nil {
				return err
			}
			continue
		}
		body := struct {
			Messages []sf `json:"messages"`
		}{sfs(chunk)}
		if err := a.do(ctx, call{op: "bulk delete", endpoint: rest.BulkDeleteMessages.Compile(nil, channelID), body: body, reason: reason}); err != nil {
			return err
		}
	}
	return nil
}

// ListMessages implements discord.Port.
func (a *Adapter) ListMessages(ctx context.Context, channelID discord.ChannelID, q discord.MessageQuery) ([]discord.ChannelMessage, error) {
	var v dgo.QueryValues
	switch {
	case q.Before != 0:
		v = query("before", int64(q.Before), "limit", q.Limit)
	case q.After != 0:
		v = query("after", int64(q.After), "limit", q.Limit)
	default:
		v = query("limit", q.Limit)
	}
	var ms []wireMessageIn
	if err := a.do(ctx, call{op: "list messages", endpoint: rest.GetMessages.Compile(v, channelID), out: &ms}); err != nil {
		return nil, err
	}
	out := make([]discord.ChannelMessage, len(ms))
	for i, m := range ms {
		out[i] = discord.ChannelMessage{ID: discord.MessageID(m.ID), ChannelID: discord.ChannelID(m.ChannelID), Author: m.Author.user(),
			Content: m.Content, Timestamp: m.Timestamp.UTC()}
	}
	return out, nil
}

// SetChannelOverwrite implements discord.Port.
func (a *Adapter) SetChannelOverwrite(ctx context.Context, channelID discord.ChannelID, ow discord.Overwrite, reason string) error {
	body := struct {
		Type  int   `json:"type"`
		Allow perms `json:"allow"`
		Deny  perms `json:"deny"`
	}{int(ow.Type), perms(ow.Allow), perms(ow.Deny)}
	return a.do(ctx, call{op: "set overwrite", endpoint: rest.UpdatePermissionOverwrite.Compile(nil, channelID, ow.ID), body: body, reason: reason})
}

// DeleteChannelOverwrite implements discord.Port.
func (a *Adapter) DeleteChannelOverwrite(ctx context.Context, channelID discord.ChannelID, overwriteID int64, reason string) error {
	return a.do(ctx, call{op: "delete overwrite", endpoint: rest.DeletePermissionOverwrite.Compile(nil, channelID, overwriteID), reason: reason})
}

// SetSlowmode implements discord.Port.
func (a *Adapter) SetSlowmode(ctx context.Context, channelID discord.ChannelID, seconds int, reason string) error {
	body := struct {
		RateLimitPerUser int `json:"rate_limit_per_user"`
	}{seconds}
	return a.do(ctx, call{op: "set slowmode", endpoint: rest.UpdateChannel.Compile(nil, channelID), body: body, reason: reason})
}

// AutoModRules implements discord.Port.
func (a *Adapter) AutoModRules(ctx context.Context, guildID discord.GuildID) ([]json.RawMessage, error) {
	var rules []json.RawMessage
	if err := a.do(ctx, call{op: "list automod rules", endpoint: rest.GetAutoModerationRules.Compile(nil, guildID), out: &rules}); err != nil {
		return nil, err
	}
	return rules, nil
}

// AutoModRule implements discord.Port.
func (a *Adapter) AutoModRule(ctx context.Context, guildID discord.GuildID, ruleID int64) (json.RawMessage, error) {
	var rule json.RawMessage
	if err := a.do(ctx, call{op: "get automod rule", endpoint: rest.GetAutoModerationRule.Compile(nil, guildID, ruleID), out: &rule}); err != nil {
		return nil, err
	}
	return rule, nil
}

// CreateAutoModRule implements discord.Port.
func (a *Adapter) CreateAutoModRule(ctx context.Context, guildID discord.GuildID, rule json.RawMessage, reason string) (json.RawMessage, error) {
	if !json.Valid(rule) {
		return nil, errors.New("discord create automod rule: the rule is not valid JSON")
	}
	var out json.RawMessage
	if err := a.do(ctx, call{op: "create automod rule", endpoint: rest.CreateAutoModerationRule.Compile(nil, guildID),
		body: rule, out: &out, reason: reason}); err != nil {
		return nil, err
	}
	return out, nil
}

// ModifyAutoModRule implements discord.Port.
func (a *Adapter) ModifyAutoModRule(ctx context.Context, guildID discord.GuildID, ruleID int64, patch json.RawMessage, reason string) (json.RawMessage, error) {
	if !json.Valid(patch) {
		return nil, errors.New("discord modify automod rule: the patch is not valid JSON")
	}
	var out json.RawMessage
	if err := a.do(ctx, call{op: "modify automod rule", endpoint: rest.UpdateAutoModerationRule.Compile(nil, guildID, ruleID),
		body: patch, out: &out, reason: reason}); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteAutoModRule implements discord.Port.
func (a *Adapter) DeleteAutoModRule(ctx context.Context, guildID discord.GuildID, ruleID int64, reason string) error {
	return a.do(ctx, call{op: "delete automod rule", endpoint: rest.DeleteAutoModerationRule.Compile(nil, guildID, ruleID), reason: reason})
}

// AuditLog implements discord.Port.
func (a *Adapter) AuditLog(ctx context.Context, guildID discord.GuildID, f discord.AuditLogFilter) ([]discord.AuditLogEntry, error) {
	v := query("user_id", int64(f.UserID), "target_id", f.TargetID, "action_type", f.ActionType, "before", f.Before, "after", f.After, "limit", f.Limit)
	var log wireAuditLog
	if err := a.do(ctx, call{op: "audit log", endpoint: rest.GetAuditLogs.Compile(v, guildID), out: &log}); err != nil {
		return nil, err
	}
	out := make([]discord.AuditLogEntry, len(log.Entries))
	for i, e := range log.Entries {
		out[i] = discord.AuditLogEntry{ID: int64(e.ID), ActionType: e.ActionType, UserID: discord.UserID(e.UserID), TargetID: int64(e.TargetID),
			Reason: e.Reason, Changes: e.Changes, Options: e.Options}
	}
	return out, nil
}

// RegisterCommands implements discord.Port.
func (a *Adapter) RegisterCommands(ctx context.Context, guildID discord.GuildID, commands json.RawMessage) ([]discord.RegisteredCommand, error) {
	if !json.Valid(commands) {
		return nil, errors.New("discord register commands: the commands are not valid JSON")
	}
	ep := rest.SetGlobalCommands.Compile(nil, a.appID)
	if guildID != 0 {
		ep = rest.SetGuildCommands.Compile(nil, a.appID, guildID)
	}
	var cmds []wireCommand
	if err := a.do(ctx, call{op: "register commands", endpoint: ep, body: commands, out: &cmds}); err != nil {
		return nil, err
	}
	out := make([]discord.RegisteredCommand, len(cmds))
	for i, c := range cmds {
		out[i] = discord.RegisteredCommand{ID: int64(c.ID), Name: c.Name, Type: c.Type}
	}
	return out, nil
}

// Respond implements discord.Port.
func (a *Adapter) Respond(ctx context.Context, interactionID int64, token string, r discord.Response) error {
	body := struct {
		Type int `json:"type"`
		Data any `json:"data,omitempty"`
	}{Type: int(r.Type)}
	switch r.Type {
	case discord.RespondMessage:
		body.Data = newMessage(r.Message)
	case discord.RespondUpdate:
		body.Data = replacement(r.Message)
	case discord.RespondDeferred:
		if f := r.Message.Flags & discord.FlagEphemeral; f != 0 {
			body.Data = struct {
				Flags int `json:"flags"`
			}{int(f)}
		}
	case discord.RespondDeferredUpdate:
	case discord.RespondAutocomplete:
		if len(r.Choices) > discord.MaxChoices {
			return fmt.Errorf("discord respond: %d autocomplete choices, Discord takes at most %d", len(r.Choices), discord.MaxChoices)
		}
		type choice struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		}
		choices := make([]choice, len(r.Choices))
		for i, c := range r.Choices {
			choices[i] = choice(c)
		}
		body.Data = struct {
			Choices []choice `json:"choices"`
		}{choices}
	default:
		return fmt.Errorf("discord respond: unsupported response type %d", r.Type)
	}
	// Without ?with_response Discord answers 204: out stays nil.
	return a.do(ctx, call{op: "respond", endpoint: rest.CreateInteractionResponse.Compile(nil, interactionID, token), body: body})
}

// EditOriginal implements discord.Port.
func (a *Adapter) EditOriginal(ctx context.Context, token string, msg discord.Message) error {
	return a.do(ctx, call{op: "edit original response", endpoint: rest.UpdateInteractionResponse.Compile(nil, a.appID, token),
		body: replacement(msg)})
}

// Followup implements discord.Port.
func (a *Adapter) Followup(ctx context.Context, token string, msg discord.Message) (discord.MessageID, error) {
	var m wireID
	if err := a.do(ctx, call{op: "followup", endpoint: rest.CreateFollowupMessage.Compile(nil, a.appID, token), body: newMessage(msg), out: &m}); err != nil {
		return 0, err
	}
	return discord.MessageID(m.ID), nil
}
