package discordtest

import "fmt"

// EditMessageAs is a member editing their own message in Discord's client: the content
// changes and MESSAGE_UPDATE is dispatched, as for a REST edit.
func (s *Server) EditMessageAs(channel, message ID, content string) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.channels[channel]
	if !ok {
		return Message{}, fmt.Errorf("discordtest: no channel %d", channel)
	}
	m, e := s.messageIn(c, message)
	if e != nil {
		return Message{}, fmt.Errorf("discordtest: no message %d in channel %d", message, channel)
	}
	now := s.now().UTC()
	m.Content = content
	m.EditedTimestamp = &now
	s.messageEditedLocked()
	s.dispatchMessage("MESSAGE_UPDATE", m)
	return *m, nil
}

// DeleteAutoModRuleAs is a member deleting an AutoMod rule in the server's settings: the
// rule goes, AUTO_MODERATION_RULE_DELETE is dispatched and the audit log names the member.
func (s *Server) DeleteAutoModRuleAs(guild, user, rule ID, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	r, ok := g.AutoModRules[rule]
	if !ok {
		return fmt.Errorf("discordtest: guild %d has no AutoMod rule %d", guild, rule)
	}
	if basePermissions(g, user, s.now())&PermManageGuild == 0 {
		return fmt.Errorf("discordtest: user %d lacks MANAGE_GUILD in guild %d", user, guild)
	}
	delete(g.AutoModRules, rule)
	s.dispatch(g.ID, "AUTO_MODERATION_RULE_DELETE", IntentAutoModerationConfiguration, copyRule(r))
	s.audit(g, AuditAutoModRuleDelete, user, r.ID, reason, []auditChange{
		{Key: "name", Old: r.Name}, {Key: "trigger_type", Old: r.TriggerType},
	}, nil)
	return nil
}

// SetAutoModRuleEnabledAs is a member turning an AutoMod rule on or off in the server's
// settings: AUTO_MODERATION_RULE_UPDATE is dispatched and the audit log names the member and
// the change. Setting the state it has changes nothing and dispatches nothing.
func (s *Server) SetAutoModRuleEnabledAs(guild, user, rule ID, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	r, ok := g.AutoModRules[rule]
	if !ok {
		return fmt.Errorf("discordtest: guild %d has no AutoMod rule %d", guild, rule)
	}
	if basePermissions(g, user, s.now())&PermManageGuild == 0 {
		return fmt.Errorf("discordtest: user %d lacks MANAGE_GUILD in guild %d", user, guild)
	}
	if r.Enabled == enabled {
		return nil
	}
	r.Enabled = enabled
	s.dispatch(g.ID, "AUTO_MODERATION_RULE_UPDATE", IntentAutoModerationConfiguration, copyRule(r))
	s.audit(g, AuditAutoModRuleUpdate, user, r.ID, "", []auditChange{{Key: "enabled", Old: !enabled, New: enabled}}, nil)
	return nil
}

// RenameAutoModRuleAs is a member renaming an AutoMod rule in the server's settings, which,
// as in Discord, may give it a name another rule has: AUTO_MODERATION_RULE_UPDATE is
// dispatched and the audit log names the member and the change.
func (s *Server) RenameAutoModRuleAs(guild, user, rule ID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	r, ok := g.AutoModRules[rule]
	if !ok {
		return fmt.Errorf("discordtest: guild %d has no AutoMod rule %d", guild, rule)
	}
	if basePermissions(g, user, s.now())&PermManageGuild == 0 {
		return fmt.Errorf("discordtest: user %d lacks MANAGE_GUILD in guild %d", user, guild)
	}
	if n := len([]rune(name)); n < 1 || n > 100 {
		return fmt.Errorf("discordtest: a rule name is 1 to 100 characters, not %d", n)
	}
	if r.Name == name {
		return nil
	}
	old := r.Name
	r.Name = name
	s.dispatch(g.ID, "AUTO_MODERATION_RULE_UPDATE", IntentAutoModerationConfiguration, copyRule(r))
	s.audit(g, AuditAutoModRuleUpdate, user, r.ID, "", []auditChange{{Key: "name", Old: old, New: name}}, nil)
	return nil
}
