package discordtest

import (
	"fmt"
	"net/http"
	"time"
)

// maxTimeout is how far ahead Discord lets a timeout end.
const maxTimeout = 28 * 24 * time.Hour

// The moderation actions below are shared by the REST handlers (actor = the bot) and by the
// *As methods that play a moderator acting in Discord's own client, so both follow the same
// rules, leave the same audit-log entries and emit the same gateway events. All are called
// with s.mu held and change nothing when they fail.

// ban bans target on actor's behalf and deletes target's messages of the last deleteSeconds.
// Banning someone already banned succeeds and changes nothing, as on Discord.
func (s *Server) ban(g *Guild, actor, target ID, deleteSeconds int, reason string) *apiError {
	if e := s.require(g, actor, PermBanMembers); e != nil {
		return e
	}
	if _, ok := s.st.users[target]; !ok {
		return errUnknown("User", codeUnknownUser)
	}
	if target == g.OwnerID {
		return errMissingPermission
	}
	_, member := g.Members[target]
	if member && !outranks(g, actor, target) {
		return errMissingPermission
	}
	if _, banned := g.Bans[target]; banned {
		return nil
	}
	if !member {
		if g.NonMemberBans >= s.nonMemberBanCap(g) {
			return errNonMemberBanCap
		}
		g.NonMemberBans++
	}
	b := &Ban{UserID: target}
	if reason != "" {
		why := reason
		b.Reason = &why
	}
	g.Bans[target] = b
	if deleteSeconds > 0 {
		s.deleteMessagesBy(g, target, s.now().Add(-time.Duration(deleteSeconds)*time.Second))
	}
	if s.seesBans(g) {
		s.dispatch(g.ID, "GUILD_BAN_ADD", IntentGuildModeration, map[string]any{"guild_id": g.ID, "user": s.userJSON(target)})
	}
	if member {
		delete(g.Members, target)
		s.dispatch(g.ID, "GUILD_MEMBER_REMOVE", IntentGuildMembers, map[string]any{"guild_id": g.ID, "user": s.userJSON(target)})
	}
	s.audit(g, AuditMemberBanAdd, actor, target, reason, nil, nil)
	return nil
}

// DefaultNonMemberBanCap is how many users who are not members a guild may ban before
// Discord refuses more with error 30035. Discord does not publish the figure and says it
// fluctuates (it is a rate limit, discord-api-docs PR#4048); bot authors report about
// 2,000 (discord-api-docs#5002). The fake never lets the count fall: a test that needs the
// cap reached sets a small one (SetNonMemberBanCap).
const DefaultNonMemberBanCap = 2000

// errNonMemberBanCap is Discord's refusal of a ban of a non-member past the cap.
var errNonMemberBanCap = &apiError{Status: http.StatusBadRequest,
	Message: "Maximum number of bans for non-guild members have been exceeded", Code: codeMaxNonMemberBans}

// codeMaxNonMemberBans is Discord's error code for the non-member ban cap.
const codeMaxNonMemberBans = 30035

// SetNonMemberBanCap sets how many non-members guild may ban in all (counting those already
// banned, NonMemberBans) before bans of non-members fail with 30035.
func (s *Server) SetNonMemberBanCap(guild ID, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	g.nonMemberBanCap = &n
}

func (s *Server) nonMemberBanCap(g *Guild) int {
	if g.nonMemberBanCap != nil {
		return *g.nonMemberBanCap
	}
	return DefaultNonMemberBanCap
}

// seesBans reports whether the bot receives ban events: Discord sends them only to bots
// with BAN_MEMBERS or VIEW_AUDIT_LOG.
func (s *Server) seesBans(g *Guild) bool {
	return basePermissions(g, s.botID, s.now())&(PermBanMembers|PermViewAuditLog) != 0
}

// deleteMessagesBy deletes a user's messages in a guild sent since a time, as a ban with
// delete_message_seconds does.
func (s *Server) deleteMessagesBy(g *Guild, user ID, since time.Time) {
	for _, c := range g.Channels {
		var ids []ID
		for _, m := range s.st.messages[c.ID] {
			if m.AuthorID == user && !m.Deleted && !m.Timestamp.Before(since) {
				m.Deleted = true
				ids = append(ids, m.ID)
			}
		}
		s.dispatchDeletes(c, ids)
	}
}

func (s *Server) unban(g *Guild, actor, target ID, reason string) *apiError {
	if e := s.require(g, actor, PermBanMembers); e != nil {
		return e
	}
	if _, banned := g.Bans[target]; !banned {
		return errUnknown("Ban", codeUnknownBan)
	}
	delete(g.Bans, target)
	if s.seesBans(g) {
		s.dispatch(g.ID, "GUILD_BAN_REMOVE", IntentGuildModeration, map[string]any{"guild_id": g.ID, "user": s.userJSON(target)})
	}
	s.audit(g, AuditMemberBanRemove, actor, target, reason, nil, nil)
	return nil
}

func (s *Server) kick(g *Guild, actor, target ID, reason string) *apiError {
	if e := s.require(g, actor, PermKickMembers); e != nil {
		return e
	}
	if _, ok := g.Members[target]; !ok {
		return errUnknown("Member", codeUnknownMember)
	}
	if !outranks(g, actor, target) {
		return errMissingPermission
	}
	delete(g.Members, target)
	s.dispatch(g.ID, "GUILD_MEMBER_REMOVE", IntentGuildMembers, map[string]any{"guild_id": g.ID, "user": s.userJSON(target)})
	s.audit(g, AuditMemberKick, actor, target, reason, nil, nil)
	return nil
}

// checkTimeout applies Discord's rules for setting (until non-nil) or clearing a timeout:
// MODERATE_MEMBERS, a target below the actor that is neither the owner nor an
// administrator, and an end at most 28 days ahead.
func (s *Server) checkTimeout(g *Guild, actor, target ID, until *time.Time) *apiError {
	if e := s.require(g, actor, PermModerateMembers); e != nil {
		return e
	}
	if _, ok := g.Members[target]; !ok {
		return errUnknown("Member", codeUnknownMember)
	}
	if _, admin := unrestrictedBase(g, target); admin || !outranks(g, actor, target) {
		return errMissingPermission
	}
	if until != nil && until.After(s.now().Add(maxTimeout)) {
		return invalidForm("communication_disabled_until", "BASE_TYPE_BAD_TIME",
			"Timeout must not be more than 28 days in the future.")
	}
	return nil
}

// setTimeout changes a member's timeout and returns the audit-log change, or nil when
// nothing changed.
func setTimeout(m *Member, until *time.Time) *auditChange {
	var old, next any
	if m.CommunicationDisabledUntil != nil {
		old = formatTime(*m.CommunicationDisabledUntil)
	}
	if until != nil {
		next = formatTime(*until)
	}
	if old == next {
		return nil
	}
	if until == nil {
		m.CommunicationDisabledUntil = nil
	} else {
		t := until.UTC()
		m.CommunicationDisabledUntil = &t
	}
	return &auditChange{Key: "communication_disabled_until", Old: old, New: next}
}

// memberUpdated emits GUILD_MEMBER_UPDATE. Called with s.mu held.
func (s *Server) memberUpdated(g *Guild, m *Member) {
	payload := s.memberJSON(m)
	payload["guild_id"] = g.ID
	s.dispatch(g.ID, "GUILD_MEMBER_UPDATE", IntentGuildMembers, payload)
}

// moderatorGuild resolves a guild for an *As call; the moderator must be a member.
func (s *Server) moderatorGuild(guild, moderator ID) (*Guild, error) {
	g, ok := s.st.guilds[guild]
	if !ok {
		return nil, fmt.Errorf("guild %s: %w", guild, errUnknown("Guild", codeUnknownGuild))
	}
	if _, ok := g.Members[moderator]; !ok {
		return nil, fmt.Errorf("moderator %s in guild %s: %w", moderator, guild, errUnknown("Member", codeUnknownMember))
	}
	return g, nil
}

// BanAs bans target as moderator would from Discord's client: the moderator's permissions
// and role hierarchy are checked like the bot's, the audit-log entry names the moderator,
// and the same gateway events follow. The error is Discord's (an *apiError) when refused.
func (s *Server) BanAs(guild, moderator, target ID, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.moderatorGuild(guild, moderator)
	if err != nil {
		return err
	}
	return asError(s.ban(g, moderator, target, 0, reason))
}

// UnbanAs lifts a ban as moderator; see BanAs.
func (s *Server) UnbanAs(guild, moderator, target ID, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.moderatorGuild(guild, moderator)
	if err != nil {
		return err
	}
	return asError(s.unban(g, moderator, target, reason))
}

// KickAs removes target from the guild as moderator; see BanAs.
func (s *Server) KickAs(guild, moderator, target ID, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.moderatorGuild(guild, moderator)
	if err != nil {
		return err
	}
	return asError(s.kick(g, moderator, target, reason))
}

// TimeoutAs times target out until a time (the zero time lifts the timeout) as moderator;
// see BanAs.
func (s *Server) TimeoutAs(guild, moderator, target ID, until time.Time, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.moderatorGuild(guild, moderator)
	if err != nil {
		return err
	}
	var u *time.Time
	if !until.IsZero() {
		u = &until
	}
	if e := s.checkTimeout(g, moderator, target, u); e != nil {
		return e
	}
	m := g.Members[target]
	if ch := setTimeout(m, u); ch != nil {
		s.memberUpdated(g, m)
		s.audit(g, AuditMemberUpdate, moderator, target, reason, []auditChange{*ch}, nil)
	}
	return nil
}

// errNotInVoice is Discord's answer to voice changes for a member not in a voice channel;
// the fake has no voice.
var errNotInVoice = &apiError{Status: http.StatusBadRequest, Message: "Target user is not connected to voice.", Code: codeNotInVoice}
