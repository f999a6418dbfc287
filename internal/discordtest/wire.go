package discordtest

import (
	"encoding/json"
	"sort"
	"time"
)

// Gateway intents, as Discord numbers them.
const (
	IntentGuilds                      uint64 = 1 << 0
	IntentGuildMembers                uint64 = 1 << 1
	IntentGuildModeration             uint64 = 1 << 2
	IntentGuildMessages               uint64 = 1 << 9
	IntentDirectMessages              uint64 = 1 << 12
	IntentMessageContent              uint64 = 1 << 15
	IntentAutoModerationConfiguration uint64 = 1 << 20
	IntentAutoModerationExecution     uint64 = 1 << 21
)

// The renderers below turn state into Discord's JSON objects. They must be called with
// s.mu held, and return values that share nothing with the state, so the caller may encode
// them after unlocking.

func (s *Server) userJSON(id ID) map[string]any {
	u, ok := s.st.users[id]
	if !ok {
		return map[string]any{"id": id, "username": "unknown", "discriminator": "0", "global_name": nil, "avatar": nil,
			"public_flags": 0, "flags": 0, "primary_guild": nil}
	}
	m := map[string]any{"id": u.ID, "username": u.Username, "discriminator": "0", "global_name": u.GlobalName, "avatar": u.Avatar,
		"public_flags": 0, "flags": 0, "primary_guild": nil, "banner": nil, "accent_color": nil}
	if u.Bot {
		m["bot"] = true
	}
	return m
}

func (s *Server) memberJSON(m *Member) map[string]any {
	roles := append([]ID{}, m.Roles...)
	out := map[string]any{
		"user":                         s.userJSON(m.UserID),
		"nick":                         m.Nick,
		"avatar":                       nil,
		"banner":                       nil,
		"premium_since":                nil,
		"roles":                        roles,
		"joined_at":                    m.JoinedAt.UTC().Format(time.RFC3339Nano),
		"deaf":                         false,
		"mute":                         false,
		"flags":                        m.Flags,
		"pending":                      false,
		"communication_disabled_until": nil,
	}
	if m.CommunicationDisabledUntil != nil {
		out["communication_disabled_until"] = m.CommunicationDisabledUntil.UTC().Format(time.RFC3339Nano)
	}
	return out
}

func roleJSON(r *Role) map[string]any {
	return map[string]any{"id": r.ID, "name": r.Name, "color": r.Color, "hoist": r.Hoist, "icon": nil,
		"unicode_emoji": nil, "position": r.Position, "permissions": r.Permissions, "managed": r.Managed,
		"mentionable": r.Mentionable, "flags": 0,
		"colors": map[string]any{"primary_color": r.Color, "secondary_color": nil, "tertiary_color": nil}}
}

// sortedRoles lists a guild's roles by position, then id.
func sortedRoles(g *Guild) []*Role {
	rs := make([]*Role, 0, len(g.Roles))
	for _, r := range g.Roles {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Position != rs[j].Position {
			return rs[i].Position < rs[j].Position
		}
		return rs[i].ID < rs[j].ID
	})
	return rs
}

func channelJSON(c *Channel) map[string]any {
	ow := make([]map[string]any, 0, len(c.PermissionOverwrites))
	for _, o := range c.PermissionOverwrites {
		ow = append(ow, map[string]any{"id": o.ID, "type": o.Type, "allow": o.Allow, "deny": o.Deny})
	}
	out := map[string]any{"id": c.ID, "type": c.Type, "flags": 0}
	if c.Type == ChannelDM {
		out["last_message_id"] = nil
		return out
	}
	out["guild_id"] = c.GuildID
	out["name"] = c.Name
	out["position"] = c.Position
	out["permission_overwrites"] = ow
	out["nsfw"] = c.NSFW
	out["rate_limit_per_user"] = c.RateLimitPerUser
	if c.ParentID != 0 {
		out["parent_id"] = c.ParentID
	} else {
		out["parent_id"] = nil
	}
	if c.Type == ChannelGuildText {
		out["topic"] = c.Topic
		out["last_message_id"] = nil
	}
	if c.Type == ChannelAnnouncementThread || c.Type == ChannelPublicThread || c.Type == ChannelPrivateThread {
		// Threads carry no overwrites of their own, and their metadata instead.
		delete(out, "permission_overwrites")
		out["owner_id"] = c.OwnerID
		out["message_count"] = 0
		out["member_count"] = 0
		out["total_message_sent"] = 0
		out["last_message_id"] = nil
		out["thread_metadata"] = map[string]any{"archived": false, "auto_archive_duration": 1440,
			"archive_timestamp": c.ID.Time().Format(time.RFC3339Nano), "locked": false}
	}
	return out
}

// channelObject is channelJSON plus what needs the state: a DM's recipients.
func (s *Server) channelObject(c *Channel) map[string]any {
	out := channelJSON(c)
	if c.Type == ChannelDM {
		recipients := []map[string]any{}
		for _, id := range c.Recipients {
			recipients = append(recipients, s.userJSON(id))
		}
		out["recipients"] = recipients
	}
	return out
}

// guildJSON is the guild object of GET /guilds/{id} (without members and channels).
func (s *Server) guildJSON(g *Guild) map[string]any {
	roles := []map[string]any{}
	for _, r := range sortedRoles(g) {
		roles = append(roles, roleJSON(r))
	}
	return map[string]any{
		"id": g.ID, "name": g.Name, "icon": nil, "splash": nil, "discovery_splash": nil, "owner_id": g.OwnerID,
		"afk_channel_id": nil, "afk_timeout": 300, "verification_level": g.VerificationLevel, "default_message_notifications": 0,
		"explicit_content_filter": 0, "roles": roles, "emojis": []any{}, "features": []string{}, "mfa_level": 0,
		"application_id": nil, "system_channel_id": nil, "system_channel_flags": 0, "rules_channel_id": nil,
		"vanity_url_code": nil, "description": nil, "banner": nil, "premium_tier": 0, "preferred_locale": "en-US",
		"public_updates_channel_id": nil, "nsfw_level": 0, "premium_progress_bar_enabled": false, "stickers": []any{},
		"safety_alerts_channel_id": nil, "max_members": 500000, "max_video_channel_users": 25,
		"home_header": nil, "region": "deprecated", "widget_enabled": false, "widget_channel_id": nil,
		"max_presences": nil, "max_stage_video_channel_users": 50, "premium_subscription_count": 0,
		"nsfw": false, "incidents_data": s.incidentsJSON(g),
	}
}

// guildCreateJSON is the GUILD_CREATE payload: the guild with its members and channels.
func (s *Server) guildCreateJSON(g *Guild) map[string]any {
	out := s.guildJSON(g)
	members := []map[string]any{}
	ids := make([]ID, 0, len(g.Members))
	for id := range g.Members {
		ids = append(ids, id)
	}
	sortIDs(ids)
	for _, id := range ids {
		members = append(members, s.memberJSON(g.Members[id]))
	}
	channels, threads := []map[string]any{}, []map[string]any{}
	cids := make([]ID, 0, len(g.Channels))
	for id := range g.Channels {
		cids = append(cids, id)
	}
	sortIDs(cids)
	for _, id := range cids {
		c := g.Channels[id]
		if c.Type == ChannelPublicThread || c.Type == ChannelPrivateThread {
			threads = append(threads, channelJSON(c))
		} else {
			channels = append(channels, channelJSON(c))
		}
	}
	out["joined_at"] = g.Members[s.botID].JoinedAt.UTC().Format(time.RFC3339Nano)
	out["large"] = false
	out["unavailable"] = false
	out["member_count"] = len(g.Members)
	out["members"] = members
	out["channels"] = channels
	out["threads"] = threads
	out["voice_states"] = []any{}
	out["presences"] = []any{}
	out["stage_instances"] = []any{}
	out["guild_scheduled_events"] = []any{}
	out["soundboard_sounds"] = []any{}
	return out
}

// messageJSON renders a message; guild messages carry the author's member object.
func (s *Server) messageJSON(m *Message) map[string]any {
	embeds := m.Embeds
	if embeds == nil {
		embeds = []json.RawMessage{}
	}
	components := m.Components
	if components == nil {
		components = []json.RawMessage{}
	}
	out := map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "author": s.userJSON(m.AuthorID), "content": m.Content,
		"timestamp": m.Timestamp.UTC().Format(time.RFC3339Nano), "edited_timestamp": nil, "tts": false,
		"mention_everyone": false, "mentions": []any{}, "mention_roles": []any{}, "attachments": []any{},
		"embeds": embeds, "components": components, "pinned": false, "type": m.Type, "flags": m.Flags,
	}
	if m.EditedTimestamp != nil {
		out["edited_timestamp"] = m.EditedTimestamp.UTC().Format(time.RFC3339Nano)
	}
	if m.WebhookID != 0 {
		out["webhook_id"] = m.WebhookID
	}
	if m.Poll != nil {
		out["poll"] = m.Poll
	}
	return out
}
