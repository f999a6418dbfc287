package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/snowflake/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelbot/gavel/internal/discord"
)

// jsonMessage is what readMessage reads, as encoding/json reads it: the fields of disgo's
// discord.Message that gavel uses, with disgo's types for them.
type jsonMessage struct {
	ID        snowflake.ID  `json:"id"`
	ChannelID snowflake.ID  `json:"channel_id"`
	GuildID   *snowflake.ID `json:"guild_id"`
	Type      int           `json:"type"`
	Flags     int           `json:"flags"`
	Timestamp time.Time     `json:"timestamp"`
	Author    struct {
		ID         snowflake.ID `json:"id"`
		Username   string       `json:"username"`
		GlobalName *string      `json:"global_name"`
		Bot        bool         `json:"bot"`
		System     bool         `json:"system"`
	} `json:"author"`
	Member *struct {
		Roles []snowflake.ID `json:"roles"`
	} `json:"member"`
	Content  string `json:"content"`
	Mentions []struct {
		ID         snowflake.ID `json:"id"`
		Username   string       `json:"username"`
		GlobalName *string      `json:"global_name"`
		Bot        bool         `json:"bot"`
		Member     *struct {
			Roles                      *[]snowflake.ID `json:"roles"`
			Nick                       *string         `json:"nick"`
			JoinedAt                   *time.Time      `json:"joined_at"`
			CommunicationDisabledUntil *time.Time      `json:"communication_disabled_until"`
		} `json:"member"`
	} `json:"mentions"`
	MentionRoles []snowflake.ID `json:"mention_roles"`
	WebhookID    *snowflake.ID  `json:"webhook_id"`
	Poll         *struct{}      `json:"poll"`
}

func (j jsonMessage) gavel() *MessageCreate {
	m := &MessageCreate{ID: discord.MessageID(j.ID), ChannelID: discord.ChannelID(j.ChannelID), Type: j.Type, Flags: j.Flags,
		CreatedAt: j.Timestamp, Content: j.Content, Webhook: j.WebhookID != nil, Poll: j.Poll != nil,
		Author:       discord.User{ID: discord.UserID(j.Author.ID), Username: j.Author.Username, Bot: j.Author.Bot},
		AuthorSystem: j.Author.System}
	if j.GuildID != nil {
		m.GuildID, m.InGuild = discord.GuildID(*j.GuildID), true
	}
	if j.Author.GlobalName != nil {
		m.Author.GlobalName = *j.Author.GlobalName
	}
	if j.Member != nil {
		m.HasMember, m.Roles = true, []discord.RoleID{}
		for _, r := range j.Member.Roles {
			m.Roles = append(m.Roles, discord.RoleID(r))
		}
	}
	for _, u := range j.Mentions {
		m.Mentions = append(m.Mentions, discord.UserID(u.ID))
		// A member is kept only when it states its roles.
		if u.Member == nil || u.Member.Roles == nil {
			continue
		}
		mm := discord.Member{User: discord.User{ID: discord.UserID(u.ID), Username: u.Username, Bot: u.Bot}}
		if u.GlobalName != nil {
			mm.User.GlobalName = *u.GlobalName
		}
		for _, r := range *u.Member.Roles {
			mm.Roles = append(mm.Roles, discord.RoleID(r))
		}
		if u.Member.Nick != nil {
			mm.Nick = *u.Member.Nick
		}
		if t := u.Member.JoinedAt; t != nil {
			mm.JoinedAt = t.UTC()
		}
		if t := u.Member.CommunicationDisabledUntil; t != nil {
			mm.CommunicationDisabledUntil = t.UTC()
		}
		m.MentionMembers = append(m.MentionMembers, mm)
	}
	for _, r := range j.MentionRoles {
		m.MentionRoles = append(m.MentionRoles, discord.RoleID(r))
	}
	return m
}

// sameMessage compares two readings; an empty list and none are the same to every reader
// but HasMember's Roles (never nil, which both sides keep).
var sameMessage = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(MessageCreate{}), cmp.Comparer(func(a, b time.Time) bool {
	return a.Equal(b) && a.Format(time.RFC3339Nano) == b.Format(time.RFC3339Nano)
})}

// Real MESSAGE_CREATE payloads: Discord's documented examples, and messages as Discord's
// gateway sends them to a bot in a guild (member, mentions with their members, a reply with
// its referenced message, embeds, attachments, a poll, a webhook's post, a DM, the raid
// report, text with escapes and characters outside ASCII).
var realMessages = map[string]string{
	"docs example": `{
  "reactions": [{"count": 1, "count_details": {"burst": 0, "normal": 1}, "me": false, "me_burst": false,
    "emoji": {"id": null, "name": "🔥"}, "burst_colors": []}],
  "attachments": [], "tts": false, "embeds": [], "timestamp": "2017-07-11T17:27:07.299000+00:00",
  "mention_everyone": false, "id": "334385199974967042", "pinned": false, "edited_timestamp": null,
  "author": {"username": "Mason", "discriminator": "9999", "id": "53908099506183680", "avatar": "a_bab14f271d565501444b2ca3be944b25"},
  "mention_roles": [], "content": "Supa Hot", "channel_id": "290926798999357250", "mentions": [], "type": 0
}`,
	"docs crossposted": `{"reactions":[{"count":1,"count_details":{"burst":0,"normal":1},"me":false,"me_burst":false,"emoji":{"id":null,"name":"\ud83d\udd25"},"burst_colors":[]}],
"attachments":[],"tts":false,"embeds":[],"timestamp":"2017-07-11T17:27:07.299000+00:00","mention_everyone":false,"id":"334385199974967042","pinned":false,"edited_timestamp":null,
"author":{"username":"Mason","discriminator":"9999","id":"53908099506183680","avatar":"a_bab14f271d565501444b2ca3be944b25"},"mention_roles":[],
"mention_channels":[{"id":"278325129692446722","guild_id":"278325129692446720","name":"big-news","type":5}],
"content":"Big news! In this <#278325129692446722> channel!","channel_id":"290926798999357250","mentions":[],"type":0,"flags":2,
"message_reference":{"type":0,"channel_id":"278325129692446722","guild_id":"278325129692446720","message_id":"306588351130107906"}}`,
	"guild command": `{"type":0,"tts":false,"timestamp":"2026-12-07T06:41:25.123000+00:00","pinned":false,"nonce":"1312345678901234567",
"mentions":[{"username":"spammer","public_flags":0,"primary_guild":null,"member":{"roles":["1100000000000000001"],"premium_since":null,"pending":false,"nick":null,"mute":false,"joined_at":"2026-11-01T10:00:00.000000+00:00","flags":0,"deaf":false,"communication_disabled_until":null,"banner":null,"avatar":null},"id":"1200000000000000002","global_name":"Spam Bot 3000","discriminator":"0","clan":null,"collectibles":null,"avatar_decoration_data":null,"avatar":null}],
"mention_roles":["1100000000000000009"],"mention_everyone":false,
"member":{"roles":["1100000000000000003","1100000000000000004"],"premium_since":null,"pending":false,"nick":"Mod","mute":false,"joined_at":"2025-01-01T00:00:00.000000+00:00","flags":0,"deaf":false,"communication_disabled_until":null,"banner":null,"avatar":null},
"id":"1312345678901234567","flags":0,"embeds":[],"edited_timestamp":null,"content":"$ban <@1200000000000000002> spamming -p 1 -s","components":[],"channel_type":0,"channel_id":"1000000000000000005",
"author":{"username":"moderator","public_flags":64,"primary_guild":{"tag":"MOD","identity_guild_id":"1000000000000000000","identity_enabled":true,"badge":"abc"},"id":"1200000000000000001","global_name":"The \"Mod\" \u00e9l\u00e8ve","discriminator":"0","clan":null,"collectibles":null,"avatar_decoration_data":null,"avatar":"0123456789abcdef0123456789abcdef"},
"attachments":[],"guild_id":"1000000000000000000"}`,
	"reply with attachment and embed": `{"type":19,"tts":false,"timestamp":"2026-12-07T06:41:26.5+00:00","referenced_message":{"type":0,"tts":false,"timestamp":"2026-12-07T06:41:25.123000+00:00","pinned":false,"mentions":[],"mention_roles":[],"mention_everyone":false,"id":"1312345678901234560","flags":0,"embeds":[],"edited_timestamp":null,"content":"original","components":[],"channel_id":"1000000000000000005","author":{"username":"other","id":"1200000000000000007","global_name":null,"discriminator":"0","avatar":null},"attachments":[]},
"pinned":false,"message_reference":{"type":0,"message_id":"1312345678901234560","guild_id":"1000000000000000000","channel_id":"1000000000000000005"},
"mentions":[{"username":"other","member":{"roles":[],"joined_at":"2026-01-01T00:00:00+00:00","flags":0},"id":"1200000000000000007","global_name":null,"discriminator":"0","avatar":null}],
"mention_roles":[],"mention_everyone":false,"member":{"roles":[],"premium_since":null,"pending":false,"nick":null,"joined_at":"2026-01-01T00:00:00.000000+00:00","flags":0},
"id":"1312345678901234568","flags":0,
"embeds":[{"type":"rich","title":"Embed with\nnewlines","description":"tab\there, quote \" and backslash \\ and slash \/","fields":[{"name":"a","value":"b","inline":true}],"color":16711680,"url":"https://example.com/?q=1&r=2"}],
"edited_timestamp":null,"content":"\u2764\ufe0f les mod\u00e9rateurs \ud83d\udc4d \u65e5\u672c\u8a9e","components":[{"type":1,"id":1,"components":[{"type":2,"style":5,"label":"Open","url":"https://example.com"}]}],
"channel_id":"1000000000000000005","author":{"username":"member","id":"1200000000000000008","global_name":"M\u00e9mb\u00ebr","discriminator":"0","avatar":null,"bot":false},
"attachments":[{"width":1024,"url":"https://cdn.discordapp.com/attachments/1/2/a.png","size":12345,"proxy_url":"https://media.discordapp.net/attachments/1/2/a.png","placeholder_version":1,"placeholder":"abc=","id":"1312345678901234569","height":768,"filename":"a.png","content_type":"image/png"}],
"guild_id":"1000000000000000000"}`,
	"poll": `{"type":0,"tts":false,"timestamp":"2026-12-07T06:41:27+00:00","poll":{"results":{"is_finalized":false,"answer_counts":[]},"question":{"text":"Best?"},"layout_type":1,"expiry":"2026-12-08T06:41:27.000000+00:00","answers":[{"poll_media":{"text":"A"},"answer_id":1},{"poll_media":{"text":"B","emoji":{"id":null,"name":"\ud83c\udf4e"}},"answer_id":2}],"allow_multiselect":false},
"pinned":false,"mentions":[],"mention_roles":[],"mention_everyone":false,"member":{"roles":["1100000000000000003"],"joined_at":"2026-01-01T00:00:00.000000+00:00","flags":0},"id":"1312345678901234570","flags":0,"embeds":[],"edited_timestamp":null,"content":"","components":[],"channel_id":"1000000000000000005",
"author":{"username":"poller","id":"1200000000000000009","global_name":null,"discriminator":"0","avatar":null},"attachments":[],"guild_id":"1000000000000000000"}`,
	"webhook": `{"webhook_id":"1400000000000000001","type":0,"tts":false,"timestamp":"2026-12-07T06:41:28.000000+00:00","pinned":false,"mentions":[],"mention_roles":[],"mention_everyone":false,"id":"1312345678901234571","flags":0,"embeds":[],"edited_timestamp":null,"content":"from a webhook","components":[],"channel_id":"1000000000000000005",
"author":{"username":"Captain Hook","id":"1400000000000000001","discriminator":"0000","bot":true,"avatar":null},"attachments":[],"application_id":"1500000000000000001","guild_id":"1000000000000000000"}`,
	"dm": `{"type":0,"tts":false,"timestamp":"2026-12-07T06:41:29.000000+00:00","pinned":false,"nonce":"1","mentions":[],"mention_roles":[],"mention_everyone":false,"id":"1312345678901234572","flags":0,"embeds":[],"edited_timestamp":null,"content":"$ban someone","components":[],"channel_type":1,"channel_id":"1600000000000000001",
"author":{"username":"lost","id":"1200000000000000010","global_name":null,"discriminator":"0","avatar":null},"attachments":[]}`,
	"raid report": `{"type":38,"tts":false,"timestamp":"2026-12-07T06:41:30.000000+00:00","pinned":false,"mentions":[],"mention_roles":[],"mention_everyone":false,"id":"1312345678901234573","flags":0,"embeds":[],"edited_timestamp":null,"content":"","components":[],"channel_id":"1000000000000000006",
"author":{"username":"Discord","id":"643945264868098049","system":true,"discriminator":"0000","avatar":null},"attachments":[],"guild_id":"1000000000000000000"}`,
	"ephemeral":        `{"type":20,"timestamp":"2026-12-07T06:41:31.000000+00:00","id":"1312345678901234574","flags":64,"content":"only you","channel_id":"1000000000000000005","author":{"username":"gavel","id":"1700000000000000001","bot":true},"mentions":[],"mention_roles":[]}`,
	"nulls and spaces": " {\n\t\"id\" : \"1312345678901234575\" , \"guild_id\" : null , \"member\" : null , \"mentions\" : null , \"mention_roles\" : null , \"content\" : null ,\r\n \"author\" : { \"id\" : \"1\" , \"global_name\" : null , \"bot\" : null } , \"poll\" : null , \"webhook_id\" : null , \"type\" : null , \"flags\" : null , \"timestamp\" : null , \"channel_id\" : \"0\" } ",
	"storm message":    `{"type":0,"tts":false,"timestamp":"2026-12-07T06:41:32.000000+00:00","pinned":false,"mentions":[],"mention_roles":[],"mention_everyone":false,"member":{"roles":[],"joined_at":"2026-12-07T06:00:00Z","deaf":false,"mute":false},"id":"1312345678901234576","flags":0,"embeds":[],"edited_timestamp":null,"content":"message 7 about nothing in particular","channel_id":"1000000000000000005","author":{"username":"member-7","id":"1200000000000000011","discriminator":"0","avatar":null,"bot":false},"attachments":[],"guild_id":"1000000000000000000"}`,
}

// TestReadMessageReadsWhatDisgoReads: every real payload is read by gavel's own pass (no
// fall back), as disgo's decoding and encoding/json read it.
func TestReadMessageReadsWhatDisgoReads(t *testing.T) {
	for name, payload := range realMessages {
		t.Run(name, func(t *testing.T) {
			got, ok := readMessage([]byte(payload))
			if !ok {
				t.Fatal("left to disgo; want it read")
			}
			viaDisgo, err := decodeThroughDisgo([]byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(viaDisgo, got, sameMessage...); diff != "" {
				t.Errorf("disgo (-) and gavel (+) differ:\n%s", diff)
			}
			var j jsonMessage
			if err := json.Unmarshal([]byte(payload), &j); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(j.gavel(), got, sameMessage...); diff != "" {
				t.Errorf("encoding/json (-) and gavel (+) differ:\n%s", diff)
			}
		})
	}
	// What the consumers rely on, spelled out for two of them.
	cmd, _ := readMessage([]byte(realMessages["guild command"]))
	want := &MessageCreate{ID: 1312345678901234567, ChannelID: 1000000000000000005, GuildID: 1000000000000000000, InGuild: true,
		CreatedAt: time.Date(2026, 12, 7, 6, 41, 25, 123000000, time.UTC),
		Author:    discord.User{ID: 1200000000000000001, Username: "moderator", GlobalName: `The "Mod" élève`},
		HasMember: true, Roles: []discord.RoleID{1100000000000000003, 1100000000000000004},
		Content: "$ban <@1200000000000000002> spamming -p 1 -s", Mentions: []discord.UserID{1200000000000000002},
		MentionRoles: []discord.RoleID{1100000000000000009},
		MentionMembers: []discord.Member{{User: discord.User{ID: 1200000000000000002, Username: "spammer", GlobalName: "Spam Bot 3000"},
			Roles: []discord.RoleID{1100000000000000001}, JoinedAt: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}}}
	if diff := cmp.Diff(want, cmd, sameMessage...); diff != "" {
		t.Errorf("guild command (-want +got):\n%s", diff)
	}
	reply, _ := readMessage([]byte(realMessages["reply with attachment and embed"]))
	if reply.Content != "❤️ les modérateurs 👍 日本語" || reply.Type != 19 || reply.Author.GlobalName != "Mémbër" || !reply.HasMember || reply.Roles == nil {
		t.Errorf("reply read as %+v", reply)
	}
}

// TestMentionMembers: each mention that carries its member keeps it, with the mention's
// user and the member's roles, nickname, join and timeout, on gavel's pass and on the
// fallback through disgo (whose Message drops them); a mention without a member (a user not
// in the guild), with a null one, or with one that states no roles keeps none.
func TestMentionMembers(t *testing.T) {
	const payload = `{"id":"9","guild_id":"1","content":"$warn <@2> <@3> <@4> <@5> <@6>","mentions":[
{"member":{"roles":["11","12"],"nick":"Twö","joined_at":"2026-01-02T03:04:05.5+01:00","communication_disabled_until":"2026-12-08T00:00:00+00:00","flags":0,"pending":false},
 "id":"2","username":"two","global_name":"Two \u00e9","bot":false},
{"id":"3","username":"three","global_name":null},
{"id":"4","username":"four","member":null},
{"id":"5","username":"five","member":{"nick":"no roles","joined_at":"2026-01-01T00:00:00Z"}},
{"username":"six","member":{"roles":[],"communication_disabled_until":null,"nick":null},"id":"6","bot":true}]}`
	want := []discord.Member{
		{User: discord.User{ID: 2, Username: "two", GlobalName: "Two é"}, Roles: []discord.RoleID{11, 12}, Nick: "Twö",
			JoinedAt: time.Date(2026, 1, 2, 2, 4, 5, 500000000, time.UTC), CommunicationDisabledUntil: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)},
		{User: discord.User{ID: 6, Username: "six", Bot: true}},
	}
	got, ok := readMessage([]byte(payload))
	if !ok {
		t.Fatal("left to disgo; want it read")
	}
	if diff := cmp.Diff(want, got.MentionMembers, sameMessage...); diff != "" {
		t.Errorf("gavel's pass (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]discord.UserID{2, 3, 4, 5, 6}, got.Mentions); diff != "" {
		t.Errorf("mentions (-want +got):\n%s", diff)
	}
	// A key that differs in case sends the message to disgo: the members are still kept.
	viaDisgo, err := decodeMessage([]byte(strings.Replace(payload, `"content"`, `"Content"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, viaDisgo.MentionMembers, sameMessage...); diff != "" {
		t.Errorf("through disgo (-want +got):\n%s", diff)
	}
	// A member's field of a type disgo never looks at (its mentions are plain users): disgo
	// reads the message, and no member is kept.
	odd := strings.Replace(payload, `"roles":[]`, `"roles":{}`, 1)
	if _, ok := readMessage([]byte(odd)); ok {
		t.Fatal("roles as an object read by gavel's pass")
	}
	m, err := decodeMessage([]byte(odd))
	if err != nil || len(m.MentionMembers) != 0 || len(m.Mentions) != 5 {
		t.Errorf("a malformed member: %+v, %v; want the mentions and no members", m, err)
	}
	// A DM's mentions carry no member.
	dm, _ := readMessage([]byte(`{"id":"9","mentions":[{"id":"2","username":"two"}]}`))
	if len(dm.MentionMembers) != 0 || len(dm.Mentions) != 1 {
		t.Errorf("a DM: %+v", dm)
	}
}

// TestReadMessageLeavesTheRestToDisgo: payloads of a shape Discord does not send are not
// read by gavel's pass, and decodeMessage hands them to disgo, which reads them or fails.
func TestReadMessageLeavesTheRestToDisgo(t *testing.T) {
	for _, tc := range []struct {
		payload string
		// disgo reads it (else it fails, and so does decodeMessage)
		disgoReads bool
	}{
		{`{"id":"1","ID":"2"}`, true},                                  // a key that differs in case
		{`{"content":"a","Content":"b"}`, true},                        // the same
		{`{"\u0069d":"5"}`, true},                                      // an escaped key
		{`{"id":"1","id":"2"}`, true},                                  // a repeated key
		{`{"author":{"id":"1","ſystem":true}}`, true},                  // folds to "system" (long s)
		{`{"id":1}`, false},                                            // an id not in a string
		{`{"id":"1a"}`, false},                                         // not digits
		{`{"id":"18446744073709551616"}`, false},                       // past uint64
		{`{"id":"\u0031"}`, true},                                      // an escape in an id: disgo unquotes it
		{`{"type":"0"}`, false},                                        // a string for a number
		{`{"type":1.5}`, false},                                        // not an integer
		{`{"author":{"bot":1}}`, false},                                // not a boolean
		{`{"author":[]}`, false},                                       // not an object
		{`{"member":{"roles":{}}}`, false},                             // not an array
		{`{"mentions":[1]}`, false},                                    // not a user
		{`{"mentions":[{"id":"1","Member":{"roles":[]}}]}`, true},      // a mention's key that differs in case
		{`{"mentions":[{"member":{"roles":["1"],"roles":[]}}]}`, true}, // a member's repeated key
		{`{"mentions":[{"member":{"joined_at":"soon"}}]}`, true},       // disgo never reads a mention's member
		{`{"mentions":[{"member":[]}]}`, true},                         // the same
		{`{"mentions":[{"username":1}]}`, false},                       // not a string
		{`{"poll":[]}`, false},                                         // not a poll
		{`{"content":1}`, false},                                       // not a string
		{`{"timestamp":"yesterday"}`, false},                           // not a time
		{`{"timestamp":"2026-12-07T00:00:00\u002b00:00"}`, false},      // time.Time reads the literal
		{`null`, true},
		{`[]`, false},
		{`{"id":"1"} x`, false},
		{`{"id":"1",}`, false},
		{`{"content":"\x"}`, false},
	} {
		if m, ok := readMessage([]byte(tc.payload)); ok {
			t.Errorf("%s read as %+v; want it left to disgo", tc.payload, m)
			continue
		}
		_, err := decodeMessage([]byte(tc.payload))
		_, disgoErr := dgw.UnmarshalEventData([]byte(tc.payload), dgw.EventTypeMessageCreate)
		if (err == nil) != tc.disgoReads || (disgoErr == nil) != tc.disgoReads {
			t.Errorf("%s: decodeMessage: %v, disgo: %v; want disgo reading it %v", tc.payload, err, disgoErr, tc.disgoReads)
		}
	}
	// A key repeated was left to disgo, which takes the last, as encoding/json.
	m, err := decodeMessage([]byte(`{"id":"1","id":"2","guild_id":"3"}`))
	if err != nil || m.ID != 2 || m.GuildID != 3 || !m.InGuild {
		t.Errorf("repeated key: %+v, %v", m, err)
	}
}

// TestStringsReadAsEncodingJSON: str decodes every escape, surrogate pairs and lone
// surrogates, and bytes that are not UTF-8, as encoding/json does.
func TestStringsReadAsEncodingJSON(t *testing.T) {
	for _, lit := range []string{
		`""`, `"plain"`, `"é日本"`, `"\n\t\r\b\f\/\\\""`, `"\u0000\u001f"`, `"\ud83d\udc4d"`, `"\ud83d"`, `"\udc4d x"`,
		`"\ud83d\u0041"`, `"\ud83d\ud83d\udc4d"`, "\"\xff\xfe bad\"", "\"ok \xe2\x82 cut\"", `"\u00e9\u00E9"`, `"x\u2028y"`,
	} {
		got, ok := str([]byte(lit))
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		if !ok || got != want {
			t.Errorf("%s: got %q (%v), encoding/json %q", lit, got, ok, want)
		}
	}
}

// TestDecodeHandsOnGavelsMessage: with WithMessageDecoding's flag a MESSAGE_CREATE's D is
// gavel's *MessageCreate, other events disgo's; without it, disgo's.
func TestDecodeHandsOnGavelsMessage(t *testing.T) {
	payload := []byte(`{"t":"MESSAGE_CREATE","s":3,"op":0,"d":` + realMessages["storm message"] + `}`)
	m, err := decode(payload, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if msg, ok := m.D.(*MessageCreate); !ok || msg.Content != "message 7 about nothing in particular" || m.S != 3 {
		t.Fatalf("decoded %T %+v", m.D, m.D)
	}
	if m, err = decode(payload, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.D.(dgw.EventMessageCreate); !ok {
		t.Fatalf("without the flag: %T", m.D)
	}
	upd := []byte(`{"t":"MESSAGE_UPDATE","s":4,"op":0,"d":` + realMessages["storm message"] + `}`)
	if m, err = decode(upd, nil, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.D.(dgw.EventMessageUpdate); !ok {
		t.Fatalf("an edit: %T", m.D)
	}
	// One disgo panics on (a button outside an action row) is read by gavel's pass; with an
	// escaped key it goes to disgo, whose panic is an error like any other.
	button := `{"id":"8","components":[{"type":2,"style":1,"custom_id":"x"}]}`
	if m, err = decode([]byte(`{"t":"MESSAGE_CREATE","s":6,"op":0,"d":`+button+`}`), nil, true); err != nil || m.D.(*MessageCreate).ID != 8 {
		t.Fatalf("a top-level button: %+v, %v", m, err)
	}
	escaped := strings.Replace(button, `"id"`, `"\u0069d"`, 1)
	if m, err = decode([]byte(`{"t":"MESSAGE_CREATE","s":7,"op":0,"d":`+escaped+`}`), nil, true); err == nil || m.S != 7 || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("a top-level button left to disgo: %+v, %v", m, err)
	}
	// A message disgo cannot read fails as it did, so the sequence still advances.
	bad := []byte(`{"t":"MESSAGE_CREATE","s":5,"op":0,"d":{"id":7}}`)
	if m, err = decode(bad, nil, true); err == nil || m.S != 5 || m.D != nil {
		t.Fatalf("an unreadable message: %+v, %v", m, err)
	}
}

func FuzzMessageCreate(f *testing.F) {
	for _, p := range realMessages {
		f.Add([]byte(p))
	}
	for _, p := range []string{`{}`, `{"id":"1","author":{"id":"2","bot":true},"member":{"roles":["3",null,0]},"mentions":[null,{"id":"4"}]}`,
		`{"content":"\ud83d\u0041 \u00e9","guild_id":"0","webhook_id":0,"poll":{}}`, `{"author":null,"timestamp":"2026-01-02T03:04:05Z"}`,
		`{"mentions":[{"member":{"roles":["1",null],"nick":"n","joined_at":"2026-01-02T03:04:05+02:00","communication_disabled_until":null},"id":"2","bot":true},{"id":"3","member":{"nick":null}},{"member":null},null]}`} {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := readMessage(data)
		if !ok {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("%q read, but it is not valid JSON", data)
		}
		var j jsonMessage
		if err := json.Unmarshal(data, &j); err != nil {
			t.Fatalf("%q read as %+v, but encoding/json says: %v", data, got, err)
		}
		if diff := cmp.Diff(j.gavel(), got, sameMessage...); diff != "" {
			t.Fatalf("%q: encoding/json (-) and gavel (+) differ:\n%s", data, diff)
		}
		// disgo reads more fields, and may refuse one gavel does not read; when it reads the
		// message, the fallback (disgo, and the mentions' members disgo drops) reads what
		// gavel reads.
		if viaDisgo, err := decodeThroughDisgo(data); err == nil {
			if diff := cmp.Diff(viaDisgo, got, sameMessage...); diff != "" {
				t.Fatalf("%q: disgo (-) and gavel (+) differ:\n%s", data, diff)
			}
		}
		if got.HasMember && got.Roles == nil {
			t.Fatalf("%q: a member with nil roles", data)
		}
		// Each kept member is one of the mentions, in their order.
		i := 0
		for _, mm := range got.MentionMembers {
			for i < len(got.Mentions) && got.Mentions[i] != mm.User.ID {
				i++
			}
			if i == len(got.Mentions) {
				t.Fatalf("%q: member %d is not among the mentions %v in order", data, mm.User.ID, got.Mentions)
			}
			i++
		}
	})
}

// BenchmarkMessageCreate decodes the storm's message and a moderator's command with gavel's
// pass (what the gateway does with WithMessageDecoding) and with disgo's.
func BenchmarkMessageCreate(b *testing.B) {
	for _, name := range []string{"storm message", "guild command"} {
		d := []byte(realMessages[name])
		key := strings.ReplaceAll(name, " ", "-")
		b.Run(key+"/gavel", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeMessage(d); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(key+"/disgo", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dgw.UnmarshalEventData(d, dgw.EventTypeMessageCreate); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
