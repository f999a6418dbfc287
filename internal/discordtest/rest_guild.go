package discordtest

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"
)

func (s *Server) handleGetGuild(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	out := s.guildJSON(g)
	if r.HTTP.URL.Query().Get("with_counts") == "true" {
		out["approximate_member_count"] = len(g.Members)
		out["approximate_presence_count"] = 0
	}
	return Response{Body: out}, nil
}

func (s *Server) handleListRoles(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	out := []map[string]any{}
	for _, role := range sortedRoles(g) {
		out = append(out, roleJSON(role))
	}
	return Response{Body: out}, nil
}

// handleListGuildChannels lists a guild's channels, threads excluded, by position then id.
// Discord lists them all to a member bot, including those it cannot see.
func (s *Server) handleListGuildChannels(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	cs := make([]*Channel, 0, len(g.Channels))
	for _, c := range g.Channels {
		if !isThread(c) {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Position != cs[j].Position {
			return cs[i].Position < cs[j].Position
		}
		return cs[i].ID < cs[j].ID
	})
	out := []map[string]any{}
	for _, c := range cs {
		out = append(out, channelJSON(c))
	}
	return Response{Body: out}, nil
}

// memberFor resolves {user_id} to a member: 10013 for a user Discord does not know, 10007
// for a user who is not in the guild. Called with s.mu held.
func (s *Server) memberFor(r *Request, g *Guild) (*Member, *apiError) {
	id, e := pathID(r, "user_id")
	if e != nil {
		return nil, e
	}
	if _, ok := s.st.users[id]; !ok {
		return nil, errUnknown("User", codeUnknownUser)
	}
	m, ok := g.Members[id]
	if !ok {
		return nil, errUnknown("Member", codeUnknownMember)
	}
	return m, nil
}

func (s *Server) handleGetMember(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	m, e := s.memberFor(r, g)
	if e != nil {
		return Response{}, e
	}
	return Response{Body: s.memberJSON(m)}, nil
}

// handleListMembers lists members in ascending user id after a user id; Discord's default
// limit is 1.
func (s *Server) handleListMembers(r *Request) (Response, *apiError) {
	limit, e := queryInt(r, "limit", 1, 1, 1000)
	if e != nil {
		return Response{}, e
	}
	after, e := queryID(r, "after")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	ids := make([]ID, 0, len(g.Members))
	for id := range g.Members {
		if id > after {
			ids = append(ids, id)
		}
	}
	sortIDs(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := []map[string]any{}
	for _, id := range ids {
		out = append(out, s.memberJSON(g.Members[id]))
	}
	return Response{Body: out}, nil
}

// handleUpdateMember is Modify Guild Member: nickname, roles and timeout in one call. Every
// part is checked before anything changes, so a refused call changes nothing; a successful
// one emits one GUILD_MEMBER_UPDATE and the audit-log entries Discord writes (MEMBER_UPDATE
// for the nickname and timeout, MEMBER_ROLE_UPDATE for roles).
func (s *Server) handleUpdateMember(r *Request) (Response, *apiError) {
	var body struct {
		Nick                       opt[string] `json:"nick"`
		Roles                      opt[[]ID]   `json:"roles"`
		CommunicationDisabledUntil opt[string] `json:"communication_disabled_until"`
		Mute                       opt[bool]   `json:"mute"`
		Deaf                       opt[bool]   `json:"deaf"`
		ChannelID                  opt[ID]     `json:"channel_id"`
		Flags                      opt[int]    `json:"flags"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	var until *time.Time
	if body.CommunicationDisabledUntil.has() {
		t, err := time.Parse(time.RFC3339Nano, body.CommunicationDisabledUntil.V)
		if err != nil {
			return Response{}, invalidForm("communication_disabled_until", "DATE_TIME_TYPE_PARSE",
				fmt.Sprintf("Could not interpret %q as a date or time.", body.CommunicationDisabledUntil.V))
		}
		until = &t
	}
	if body.Nick.has() && runeLen(body.Nick.V) > 32 {
		return Response{}, invalidForm("nick", "BASE_TYPE_MAX_LENGTH", "Must be 32 or fewer in length.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	m, e := s.memberFor(r, g)
	if e != nil {
		return Response{}, e
	}
	if (body.Mute.has() && body.Mute.V) || (body.Deaf.has() && body.Deaf.V) || body.ChannelID.has() {
		return Response{}, errNotInVoice
	}
	if body.Flags.has() {
		// guild.mdx: MANAGE_GUILD, or MANAGE_ROLES, or all three of MODERATE_MEMBERS,
		// KICK_MEMBERS and BAN_MEMBERS. The fake accepts the flags and does not keep them.
		p := basePermissions(g, s.botID, s.now())
		moderator := PermModerateMembers | PermKickMembers | PermBanMembers
		if p&(PermManageGuild|PermManageRoles) == 0 && p&moderator != moderator {
			return Response{}, errMissingPermission
		}
	}
	if body.Nick.Set {
		if m.UserID == s.botID {
			if e := s.require(g, s.botID, permChangeNickname); e != nil && s.require(g, s.botID, PermManageNicknames) != nil {
				return Response{}, e
			}
		} else {
			if e := s.require(g, s.botID, PermManageNicknames); e != nil {
				return Response{}, e
			}
			if !outranks(g, s.botID, m.UserID) {
				return Response{}, errMissingPermission
			}
		}
	}
	var added, removed []ID
	if body.Roles.Set {
		if e := s.require(g, s.botID, PermManageRoles); e != nil {
			return Response{}, e
		}
		want := map[ID]bool{}
		for _, id := range body.Roles.V {
			want[id] = true
		}
		for id := range want {
			if !containsID(m.Roles, id) {
				added = append(added, id)
			}
		}
		for _, id := range m.Roles {
			if !want[id] {
				removed = append(removed, id)
			}
		}
		sortIDs(added)
		for _, id := range append(append([]ID{}, added...), removed...) {
			if e := s.checkRoleChange(g, id); e != nil {
				return Response{}, e
			}
		}
	}
	if body.CommunicationDisabledUntil.Set {
		if e := s.checkTimeout(g, s.botID, m.UserID, until); e != nil {
			return Response{}, e
		}
	}

	var changes []auditChange
	if body.Nick.Set {
		var old, next any
		if m.Nick != nil {
			old = *m.Nick
		}
		var nick *string
		if body.Nick.has() && body.Nick.V != "" {
			v := body.Nick.V
			nick, next = &v, v
		}
		if old != next {
			changes = append(changes, auditChange{Key: "nick", Old: old, New: next})
			m.Nick = nick
		}
	}
	if body.CommunicationDisabledUntil.Set {
		if ch := setTimeout(m, until); ch != nil {
			changes = append(changes, *ch)
		}
	}
	var roleChanges []auditChange
	if len(added) > 0 || len(removed) > 0 {
		roleChanges = s.applyRoles(g, m, added, removed)
	}
	if len(changes) > 0 || len(roleChanges) > 0 {
		s.memberUpdated(g, m)
	}
	if len(changes) > 0 {
		s.audit(g, AuditMemberUpdate, s.botID, m.UserID, r.Reason, changes, nil)
	}
	if len(roleChanges) > 0 {
		s.audit(g, AuditMemberRoleUpdate, s.botID, m.UserID, r.Reason, roleChanges, nil)
	}
	return Response{Body: s.memberJSON(m)}, nil
}

func sortIDs(ids []ID) { slices.Sort(ids) }

// checkRoleChange applies Discord's rules for granting or removing a role: it must exist, be
// grantable at all (not @everyone, not managed by an integration) and sit below the bot's
// highest role.
func (s *Server) checkRoleChange(g *Guild, id ID) *apiError {
	role, ok := g.Roles[id]
	if !ok {
		return errUnknown("Role", codeUnknownRole)
	}
	if role.ID == g.ID || role.Managed {
		return apiErr(http.StatusBadRequest, codeInvalidRole, "Invalid Role")
	}
	if !canManageRole(g, s.botID, role) {
		return errMissingPermission
	}
	return nil
}

// applyRoles changes a member's roles and returns the audit-log changes ($add, $remove).
func (s *Server) applyRoles(g *Guild, m *Member, added, removed []ID) []auditChange {
	partial := func(ids []ID) []map[string]string {
		out := []map[string]string{}
		for _, id := range ids {
			out = append(out, map[string]string{"id": id.String(), "name": g.Roles[id].Name})
		}
		return out
	}
	var changes []auditChange
	if len(added) > 0 {
		m.Roles = append(m.Roles, added...)
		changes = append(changes, auditChange{Key: "$add", New: partial(added)})
	}
	if len(removed) > 0 {
		kept := m.Roles[:0:0]
		for _, id := range m.Roles {
			if !containsID(removed, id) {
				kept = append(kept, id)
			}
		}
		m.Roles = kept
		changes = append(changes, auditChange{Key: "$remove", New: partial(removed)})
	}
	return changes
}

func (s *Server) handleAddMemberRole(r *Request) (Response, *apiError) {
	return s.changeMemberRole(r, true)
}

func (s *Server) handleRemoveMemberRole(r *Request) (Response, *apiError) {
	return s.changeMemberRole(r, false)
}

// changeMemberRole adds or removes one role. Adding a role the member has, or removing one
// they lack, succeeds and changes nothing.
func (s *Server) changeMemberRole(r *Request, add bool) (Response, *apiError) {
	roleID, e := pathID(r, "role_id")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	m, e := s.memberFor(r, g)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermManageRoles); e != nil {
		return Response{}, e
	}
	if e := s.checkRoleChange(g, roleID); e != nil {
		return Response{}, e
	}
	has := containsID(m.Roles, roleID)
	if has == add {
		return Response{Status: http.StatusNoContent}, nil
	}
	var changes []auditChange
	if add {
		changes = s.applyRoles(g, m, []ID{roleID}, nil)
	} else {
		changes = s.applyRoles(g, m, nil, []ID{roleID})
	}
	s.memberUpdated(g, m)
	s.audit(g, AuditMemberRoleUpdate, s.botID, m.UserID, r.Reason, changes, nil)
	return Response{Status: http.StatusNoContent}, nil
}

func (s *Server) handleKick(r *Request) (Response, *apiError) {
	target, e := pathID(r, "user_id")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.kick(g, s.botID, target, r.Reason); e != nil {
		return Response{}, e
	}
	return Response{Status: http.StatusNoContent}, nil
}

func (s *Server) banJSON(b *Ban) map[string]any {
	return map[string]any{"user": s.userJSON(b.UserID), "reason": b.Reason}
}

// handleListBans lists bans in ascending user id; with both before and after, Discord
// respects only before.
func (s *Server) handleListBans(r *Request) (Response, *apiError) {
	limit, e := queryInt(r, "limit", 1000, 1, 1000)
	if e != nil {
		return Response{}, e
	}
	before, e := queryID(r, "before")
	if e != nil {
		return Response{}, e
	}
	after, e := queryID(r, "after")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermBanMembers); e != nil {
		return Response{}, e
	}
	ids := make([]ID, 0, len(g.Bans))
	for id := range g.Bans {
		if (before == 0 || id < before) && (before != 0 || id > after) {
			ids = append(ids, id)
		}
	}
	sortIDs(ids)
	if len(ids) > limit {
		if before != 0 {
			ids = ids[len(ids)-limit:]
		} else {
			ids = ids[:limit]
		}
	}
	out := []map[string]any{}
	for _, id := range ids {
		out = append(out, s.banJSON(g.Bans[id]))
	}
	return Response{Body: out}, nil
}

func (s *Server) handleGetBan(r *Request) (Response, *apiError) {
	target, e := pathID(r, "user_id")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermBanMembers); e != nil {
		return Response{}, e
	}
	b, ok := g.Bans[target]
	if !ok {
		return Response{}, errUnknown("Ban", codeUnknownBan)
	}
	return Response{Body: s.banJSON(b)}, nil
}

// deleteSeconds reads a ban's message-deletion window: delete_message_seconds, or the
// deprecated delete_message_days.
func deleteSeconds(seconds, days opt[int]) (int, *apiError) {
	if seconds.has() {
		if seconds.V < 0 {
			return 0, invalidForm("delete_message_seconds", "NUMBER_TYPE_MIN", "int value should be greater than or equal to 0.")
		}
		if seconds.V > 604800 {
			return 0, invalidForm("delete_message_seconds", "NUMBER_TYPE_MAX", "int value should be less than or equal to 604800.")
		}
		return seconds.V, nil
	}
	if days.has() {
		if days.V < 0 || days.V > 7 {
			return 0, invalidForm("delete_message_days", "NUMBER_TYPE_MAX", "int value should be less than or equal to 7.")
		}
		return days.V * 86400, nil
	}
	return 0, nil
}

func (s *Server) handleBan(r *Request) (Response, *apiError) {
	target, e := pathID(r, "user_id")
	if e != nil {
		return Response{}, e
	}
	var body struct {
		DeleteMessageSeconds opt[int] `json:"delete_message_seconds"`
		DeleteMessageDays    opt[int] `json:"delete_message_days"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	secs, e := deleteSeconds(body.DeleteMessageSeconds, body.DeleteMessageDays)
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.ban(g, s.botID, target, secs, r.Reason); e != nil {
		return Response{}, e
	}
	return Response{Status: http.StatusNoContent}, nil
}

func (s *Server) handleUnban(r *Request) (Response, *apiError) {
	target, e := pathID(r, "user_id")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.unban(g, s.botID, target, r.Reason); e != nil {
		return Response{}, e
	}
	return Response{Status: http.StatusNoContent}, nil
}

// handleBulkBan bans up to 200 users, as Discord does (guild.mdx "Bulk Guild Ban" and the
// notes of discord-api-docs PR#6720): it needs both BAN_MEMBERS and MANAGE_GUILD; the ids
// must be unique; the bot's own id is dropped silently (in neither list); those who cannot
// be banned (unknown, the owner, at or above the bot, already banned, non-members past the
// cap) are listed in failed_users; and when none could be banned the call fails with
// 500000, except when the non-member cap was all that stopped them, which Discord reports
// as 30035. The route has its own rate limit (bulkBanLimit).
func (s *Server) handleBulkBan(r *Request) (Response, *apiError) {
	var body struct {
		UserIDs              opt[[]ID] `json:"user_ids"`
		DeleteMessageSeconds opt[int]  `json:"delete_message_seconds"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	if !body.UserIDs.has() {
		return Response{}, invalidForm("user_ids", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if len(body.UserIDs.V) > 200 {
		return Response{}, invalidForm("user_ids", "BASE_TYPE_MAX_LENGTH", "Must be 200 or fewer in length.")
	}
	seen := make(map[ID]bool, len(body.UserIDs.V))
	for _, id := range body.UserIDs.V {
		if seen[id] {
			return Response{}, invalidForm("user_ids", "LIST_ITEM_VALUE_NOT_UNIQUE", "List item values must be unique.")
		}
		seen[id] = true
	}
	secs, e := deleteSeconds(body.DeleteMessageSeconds, opt[int]{})
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermBanMembers|PermManageGuild); e != nil {
		return Response{}, e
	}
	banned, failed := []ID{}, []ID{}
	capped := 0
	for _, id := range body.UserIDs.V {
		if id == s.botID {
			continue
		}
		if _, already := g.Bans[id]; already {
			failed = append(failed, id)
			continue
		}
		if e := s.ban(g, s.botID, id, secs, r.Reason); e != nil {
			if e == errNonMemberBanCap {
				capped++
			}
			failed = append(failed, id)
			continue
		}
		banned = append(banned, id)
	}
	if len(banned) == 0 {
		if capped > 0 && capped == len(failed) {
			return Response{}, errNonMemberBanCap
		}
		return Response{}, apiErr(http.StatusBadRequest, codeFailedToBanUsers, "Failed to ban users")
	}
	return Response{Body: map[string]any{"banned_users": banned, "failed_users": failed}}, nil
}

// handleAuditLog returns a guild's audit log, newest first; with after it returns the
// entries just after that id in ascending order, as Discord documents.
func (s *Server) handleAuditLog(r *Request) (Response, *apiError) {
	limit, e := queryInt(r, "limit", 50, 1, 100)
	if e != nil {
		return Response{}, e
	}
	var filters [4]ID
	for i, name := range []string{"user_id", "target_id", "before", "after"} {
		if filters[i], e = queryID(r, name); e != nil {
			return Response{}, e
		}
	}
	userID, targetID, before, after := filters[0], filters[1], filters[2], filters[3]
	_, hasAfter := r.HTTP.URL.Query()["after"]
	actionType, e := queryInt(r, "action_type", 0, 0, 1<<31-1)
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermViewAuditLog); e != nil {
		return Response{}, e
	}
	var picked []*AuditLogEntry // ascending
	for _, entry := range g.AuditLog {
		switch {
		case userID != 0 && entry.UserID != userID,
			targetID != 0 && entry.TargetID != targetID,
			actionType != 0 && entry.ActionType != actionType,
			before != 0 && entry.ID >= before,
			before == 0 && hasAfter && entry.ID <= after:
			continue
		}
		picked = append(picked, entry)
	}
	ascending := before == 0 && hasAfter
	if len(picked) > limit {
		if ascending {
			picked = picked[:limit]
		} else {
			picked = picked[len(picked)-limit:]
		}
	}
	entries := []map[string]any{}
	users := []map[string]any{}
	seen := map[ID]bool{}
	addUser := func(id ID) {
		if _, ok := s.st.users[id]; ok && !seen[id] {
			seen[id] = true
			users = append(users, s.userJSON(id))
		}
	}
	for i := range picked {
		entry := picked[i]
		if !ascending {
			entry = picked[len(picked)-1-i]
		}
		entries = append(entries, auditEntryJSON(entry))
		addUser(entry.UserID)
		addUser(entry.TargetID)
	}
	return Response{Body: map[string]any{
		"audit_log_entries": entries, "users": users, "integrations": []any{}, "webhooks": []any{},
		"guild_scheduled_events": []any{}, "threads": []any{}, "application_commands": []any{},
		"auto_moderation_rules": []any{},
	}}, nil
}
