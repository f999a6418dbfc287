package discordtest

import (
	"time"
)

// Permission bits beyond the ones state.go names, needed for implicit denials.
const (
	permSendTTSMessages Permissions = 1 << 12
	permAttachFiles     Permissions = 1 << 15
	permChangeNickname  Permissions = 1 << 26
)

// ComputeBasePermissions is a member's guild-level permissions as Discord computes them
// (docs/topics/permissions "compute_base_permissions"): the owner has everything; otherwise
// @everyone's permissions joined with every role's, where ADMINISTRATOR means everything.
// A member timed out now keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY. A user who is not
// a member has none.
func ComputeBasePermissions(g *Guild, user ID) Permissions {
	return basePermissions(g, user, time.Now())
}

// ComputeChannelPermissions is a member's permissions in a channel: the base permissions,
// then the @everyone overwrite, the member's role overwrites (all denies, then all allows),
// then the member's own overwrite. A thread uses its parent's overwrites. Without
// VIEW_CHANNEL nothing else in the channel is usable, and without SEND_MESSAGES the
// permissions that only qualify sending are dropped, as Discord's implicit permissions say.
func ComputeChannelPermissions(g *Guild, c *Channel, user ID) Permissions {
	return channelPermissions(g, c, user, time.Now())
}

// basePermissions is ComputeBasePermissions at a given time; the server passes its clock.
func basePermissions(g *Guild, user ID, now time.Time) Permissions {
	p, privileged := unrestrictedBase(g, user)
	if privileged {
		return PermAll
	}
	if m := g.Members[user]; m != nil && timedOut(m, now) {
		p &= PermViewChannel | PermReadMessageHistory
	}
	return p
}

// unrestrictedBase is the base permissions before a timeout applies; privileged is true for
// the owner and administrators, whom overwrites and timeouts do not touch.
func unrestrictedBase(g *Guild, user ID) (p Permissions, privileged bool) {
	if user == g.OwnerID {
		return PermAll, true
	}
	m, ok := g.Members[user]
	if !ok {
		return 0, false
	}
	if everyone, ok := g.Roles[g.ID]; ok {
		p = everyone.Permissions
	}
	for _, id := range m.Roles {
		if r, ok := g.Roles[id]; ok {
			p |= r.Permissions
		}
	}
	if p&PermAdministrator != 0 {
		return PermAll, true
	}
	return p, false
}

func channelPermissions(g *Guild, c *Channel, user ID, now time.Time) Permissions {
	p, privileged := unrestrictedBase(g, user)
	if privileged {
		return PermAll
	}
	m, ok := g.Members[user]
	if !ok {
		return 0
	}
	source := c
	if isThread(c) {
		// Threads have no overwrites of their own: the parent's apply.
		if parent, ok := g.Channels[c.ParentID]; ok {
			source = parent
		}
	}
	overwrite := func(id ID, typ int) (Overwrite, bool) {
		for _, o := range source.PermissionOverwrites {
			if o.ID == id && o.Type == typ {
				return o, true
			}
		}
		return Overwrite{}, false
	}
	if o, ok := overwrite(g.ID, 0); ok {
		p &^= o.Deny
		p |= o.Allow
	}
	var allow, deny Permissions
	for _, id := range m.Roles {
		if o, ok := overwrite(id, 0); ok {
			allow |= o.Allow
			deny |= o.Deny
		}
	}
	p &^= deny
	p |= allow
	if o, ok := overwrite(user, 1); ok {
		p &^= o.Deny
		p |= o.Allow
	}
	// A timeout also beats whatever an overwrite allows.
	if timedOut(m, now) {
		p &= PermViewChannel | PermReadMessageHistory
	}
	if p&PermViewChannel == 0 {
		return 0
	}
	if !isThread(c) && p&PermSendMessages == 0 {
		p &^= PermMentionEveryone | permSendTTSMessages | permAttachFiles | PermEmbedLinks
	}
	return p
}

func isThread(c *Channel) bool {
	return c.Type == ChannelPublicThread || c.Type == ChannelPrivateThread || c.Type == ChannelAnnouncementThread
}

// timedOut reports whether a member's timeout is running at now.
func timedOut(m *Member, now time.Time) bool {
	return m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.After(now)
}

// topRole is a member's highest role, or nil when the member has only @everyone. Roles at
// the same position rank by id, the older (smaller) one higher, as Discord sorts them.
func topRole(g *Guild, user ID) *Role {
	m, ok := g.Members[user]
	if !ok {
		return nil
	}
	var top *Role
	for _, id := range m.Roles {
		r, ok := g.Roles[id]
		if !ok || r.ID == g.ID {
			continue
		}
		if top == nil || roleAbove(r, top) {
			top = r
		}
	}
	return top
}

// roleAbove reports whether a ranks above b in the hierarchy.
func roleAbove(a, b *Role) bool {
	if a.Position != b.Position {
		return a.Position > b.Position
	}
	return a.ID < b.ID
}

// outranks reports whether actor's highest role is above target's, the rule for kicking,
// banning, timing out and renaming: nobody outranks the owner, the owner outranks everyone.
func outranks(g *Guild, actor, target ID) bool {
	if target == g.OwnerID {
		return false
	}
	if actor == g.OwnerID {
		return true
	}
	a, t := topRole(g, actor), topRole(g, target)
	switch {
	case a == nil:
		return false
	case t == nil:
		return true
	default:
		return roleAbove(a, t)
	}
}

// canManageRole reports whether actor may grant or remove role: the role must be below the
// actor's highest role (the owner may manage every role).
func canManageRole(g *Guild, actor ID, role *Role) bool {
	if actor == g.OwnerID {
		return true
	}
	top := topRole(g, actor)
	return top != nil && roleAbove(top, role)
}
