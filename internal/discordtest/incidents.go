package discordtest

import (
	"fmt"
	"time"
)

// A guild's safety state, as Discord keeps it: its verification level and its incidents
// data (guild.mdx "Incidents Data Object", "Modify Guild Incident Actions").

// Verification levels (guild.mdx "Verification Level").
const (
	VerificationNone     = 0
	VerificationLow      = 1
	VerificationMedium   = 2
	VerificationHigh     = 3
	VerificationVeryHigh = 4
)

// Guild member flags the raid defence reads (guild.mdx "Guild Member Flags").
const (
	MemberFlagDidRejoin            = 1 << 0
	MemberFlagBypassesVerification = 1 << 2
)

// MessageTypeIncidentReportRaid is the system message Discord posts when it reports a raid
// (message.mdx, GUILD_INCIDENT_REPORT_RAID).
const MessageTypeIncidentReportRaid = 38

// MaxIncidentAhead is how far ahead incident actions may be set: 24 hours.
const MaxIncidentAhead = 24 * time.Hour

// Incidents is a guild's incidents data. A time that has passed reads as null, as Discord
// clears the fields when they expire.
type Incidents struct {
	InvitesDisabledUntil *time.Time
	DMsDisabledUntil     *time.Time
	RaidDetectedAt       *time.Time
}

// IncidentChange is one PUT /incident-actions the fake answered, for tests that check
// renewals (when and what was sent).
type IncidentChange struct {
	At                   time.Time
	InvitesDisabledUntil *time.Time
	DMsDisabledUntil     *time.Time
}

// incidentsJSON renders incidents data; nil when nothing was ever set, as Discord sends.
func (s *Server) incidentsJSON(g *Guild) any {
	in := g.Incidents
	if in.InvitesDisabledUntil == nil && in.DMsDisabledUntil == nil && in.RaidDetectedAt == nil {
		return nil
	}
	now := s.now()
	ts := func(t *time.Time) any {
		if t == nil || !t.After(now) {
			return nil
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	out := map[string]any{"invites_disabled_until": ts(in.InvitesDisabledUntil), "dms_disabled_until": ts(in.DMsDisabledUntil)}
	if in.RaidDetectedAt != nil {
		out["raid_detected_at"] = in.RaidDetectedAt.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// handleIncidentActions is PUT /guilds/{guild_id}/incident-actions: MANAGE_GUILD, each
// field at most 24 hours ahead, null (or absent: Discord resets a field that is not sent)
// lifts it. GUILD_UPDATE follows with the new incidents_data.
func (s *Server) handleIncidentActions(r *Request) (Response, *apiError) {
	var body struct {
		Invites opt[time.Time] `json:"invites_disabled_until"`
		DMs     opt[time.Time] `json:"dms_disabled_until"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermManageGuild); e != nil {
		return Response{}, e
	}
	now := s.now()
	until := func(field string, o opt[time.Time]) (*time.Time, *apiError) {
		if !o.has() || !o.V.After(now) {
			return nil, nil
		}
		if o.V.Sub(now) > MaxIncidentAhead {
			return nil, invalidForm(field, "BASE_TYPE_BAD_TIME", "Incident actions can only be enabled for up to 24 hours.")
		}
		t := o.V.UTC()
		return &t, nil
	}
	inv, e := until("invites_disabled_until", body.Invites)
	if e != nil {
		return Response{}, e
	}
	dms, e := until("dms_disabled_until", body.DMs)
	if e != nil {
		return Response{}, e
	}
	g.Incidents.InvitesDisabledUntil, g.Incidents.DMsDisabledUntil = inv, dms
	g.incidentLog = append(g.incidentLog, IncidentChange{At: now, InvitesDisabledUntil: inv, DMsDisabledUntil: dms})
	s.dispatch(g.ID, "GUILD_UPDATE", IntentGuilds, s.guildJSON(g))
	data := s.incidentsJSON(g)
	if data == nil {
		data = map[string]any{"invites_disabled_until": nil, "dms_disabled_until": nil}
	}
	return Response{Body: data}, nil
}

// handleModifyGuild is PATCH /guilds/{guild_id} for the fields the fake keeps: name and
// verification_level (0–4). MANAGE_GUILD; an audit-log entry (GUILD_UPDATE, 1) and the
// GUILD_UPDATE event follow a change.
func (s *Server) handleModifyGuild(r *Request) (Response, *apiError) {
	var body struct {
		Name              opt[string] `json:"name"`
		VerificationLevel opt[int]    `json:"verification_level"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	if body.VerificationLevel.has() && (body.VerificationLevel.V < VerificationNone || body.VerificationLevel.V > VerificationVeryHigh) {
		return Response{}, invalidForm("verification_level", "BASE_TYPE_CHOICES", fmt.Sprintf("Value must be one of {0, 1, 2, 3, 4}, not %d.", body.VerificationLevel.V))
	}
	if body.Name.has() && (len(body.Name.V) < 2 || len(body.Name.V) > 100) {
		return Response{}, invalidForm("name", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermManageGuild); e != nil {
		return Response{}, e
	}
	var changes []auditChange
	if body.Name.has() && body.Name.V != g.Name {
		changes = append(changes, auditChange{Key: "name", Old: g.Name, New: body.Name.V})
		g.Name = body.Name.V
	}
	if body.VerificationLevel.has() && body.VerificationLevel.V != g.VerificationLevel {
		changes = append(changes, auditChange{Key: "verification_level", Old: g.VerificationLevel, New: body.VerificationLevel.V})
		g.VerificationLevel = body.VerificationLevel.V
	}
	if len(changes) > 0 {
		s.dispatch(g.ID, "GUILD_UPDATE", IntentGuilds, s.guildJSON(g))
		s.audit(g, AuditGuildUpdate, s.botID, g.ID, r.Reason, changes, nil)
	}
	return Response{Body: s.guildJSON(g)}, nil
}

// AuditGuildUpdate is the audit-log action type of a guild settings change.
const AuditGuildUpdate = 1

// SetVerificationLevel is a person changing the guild's verification level in Discord's
// interface: the level changes and GUILD_UPDATE is dispatched.
func (s *Server) SetVerificationLevel(guild ID, level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	g.VerificationLevel = level
	s.dispatch(g.ID, "GUILD_UPDATE", IntentGuilds, s.guildJSON(g))
}

// VerificationLevel returns the guild's verification level.
func (s *Server) VerificationLevel(guild ID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustGuild(guild).VerificationLevel
}

// GuildIncidents returns the guild's incidents data as Discord would show it now (a time
// that has passed reads as nil).
func (s *Server) GuildIncidents(guild ID) Incidents {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	now := s.now()
	live := func(t *time.Time) *time.Time {
		if t == nil || !t.After(now) {
			return nil
		}
		c := *t
		return &c
	}
	return Incidents{InvitesDisabledUntil: live(g.Incidents.InvitesDisabledUntil), DMsDisabledUntil: live(g.Incidents.DMsDisabledUntil),
		RaidDetectedAt: g.Incidents.RaidDetectedAt}
}

// IncidentLog returns every PUT /incident-actions the guild received, oldest first.
func (s *Server) IncidentLog(guild ID) []IncidentChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]IncidentChange(nil), s.mustGuild(guild).incidentLog...)
}

// ReportRaid is Discord's own raid detection firing: incidents_data.raid_detected_at is
// set (GUILD_UPDATE) and, when channel is not 0, the GUILD_INCIDENT_REPORT_RAID system
// message (type 38) is posted there (MESSAGE_CREATE), authored by the guild's owner as
// Discord attributes the report to the server.
func (s *Server) ReportRaid(guild, channel ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	now := s.now().UTC()
	g.Incidents.RaidDetectedAt = &now
	s.dispatch(g.ID, "GUILD_UPDATE", IntentGuilds, s.guildJSON(g))
	if channel == 0 {
		return
	}
	s.postRaidReportLocked(g, channel, now)
}

// ReportRaidMessage posts only Discord's raid-report system message (type 38) in channel,
// without touching incidents_data: a test of a client's handling of the message alone.
func (s *Server) ReportRaidMessage(guild, channel ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.postRaidReportLocked(s.mustGuild(guild), channel, s.now().UTC())
}

func (s *Server) postRaidReportLocked(g *Guild, channel ID, now time.Time) {
	m := &Message{ID: s.newID(), ChannelID: channel, GuildID: g.ID, AuthorID: g.OwnerID, Type: MessageTypeIncidentReportRaid, Timestamp: now}
	s.postLocked(m)
	d := s.messageJSON(m)
	d["guild_id"] = g.ID
	s.dispatch(g.ID, "MESSAGE_CREATE", IntentGuildMessages, d)
}

// Joiner describes one account of a mass join: its name, when the account was made (its
// id's snowflake timestamp), whether it has an avatar of its own, whether it is a bot, and
// its member flags on joining (MemberFlagBypassesVerification; DID_REJOIN is set by the fake
// itself for a user who was a member before).
type Joiner struct {
	Name      string
	CreatedAt time.Time
	Avatar    bool
	Bot       bool
	Flags     int
}

// MassJoin creates an account for each joiner and has it join guild, in order, each with
// GUILD_MEMBER_ADD: hundreds of accounts joining "at once". The join time is the fake's
// clock, so a test moves its clock between calls to spread joins over seconds. It returns
// the new users' ids in the joiners' order.
func (s *Server) MassJoin(guild ID, joiners ...Joiner) []ID {
	ids := make([]ID, 0, len(joiners))
	for _, j := range joiners {
		id := s.AddAccount(j)
		if err := s.UserJoins(guild, id); err != nil {
			panic(fmt.Sprintf("discordtest: MassJoin: %v", err))
		}
		if j.Flags != 0 {
			s.mu.Lock()
			s.mustGuild(guild).Members[id].Flags |= j.Flags
			s.mu.Unlock()
		}
		ids = append(ids, id)
	}
	return ids
}

// AddAccount creates a user whose id carries j.CreatedAt (the account's age, as Discord
// reads it from the snowflake), with an avatar hash when j.Avatar. The zero CreatedAt is now.
func (s *Server) AddAccount(j Joiner) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := j.CreatedAt
	if at.IsZero() {
		at = s.now()
	}
	// The low 22 bits (worker, process, increment) make ids made in one millisecond unique.
	base := uint64(at.UnixMilli()-discordEpoch) << 22
	var id ID
	for i := uint64(1); ; i++ {
		id = ID(base | (i & (1<<22 - 1)))
		if _, taken := s.st.users[id]; !taken {
			break
		}
	}
	u := &User{ID: id, Username: j.Name, Bot: j.Bot}
	if j.Avatar {
		h := fmt.Sprintf("%032x", uint64(id))
		u.Avatar = &h
	}
	s.st.users[id] = u
	return id
}

// SetMemberFlags sets a member's flags (an editable one such as BYPASSES_VERIFICATION, as a
// moderator would in Discord's interface) and dispatches GUILD_MEMBER_UPDATE.
func (s *Server) SetMemberFlags(guild, user ID, flags int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	m := g.Members[user]
	if m == nil {
		panic(fmt.Sprintf("discordtest: SetMemberFlags: %s is not a member of %s", user, guild))
	}
	m.Flags = flags
	d := s.memberJSON(m)
	d["guild_id"] = g.ID
	s.dispatch(g.ID, "GUILD_MEMBER_UPDATE", IntentGuildMembers, d)
}
