package discordtest

import (
	"testing"
	"time"
)

func TestPermissions(t *testing.T) {
	t.Parallel()
	const (
		guildID ID = 100
		owner   ID = 1
		admin   ID = 2
		mod     ID = 3
		member  ID = 4
		muted   ID = 5
		both    ID = 6
		timed   ID = 7
		timedAd ID = 8
		nobody  ID = 9

		roleAdmin   ID = 200
		roleMod     ID = 201
		roleMember  ID = 202
		roleSpeaker ID = 203
	)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	earlier := now.Add(-time.Hour)

	g := newGuild(guildID, "g", owner)
	g.Roles[guildID].Permissions = PermViewChannel | PermSendMessages | PermReadMessageHistory | PermEmbedLinks
	g.Roles[roleAdmin] = &Role{ID: roleAdmin, Position: 4, Permissions: PermAdministrator}
	g.Roles[roleMod] = &Role{ID: roleMod, Position: 3, Permissions: PermBanMembers | PermKickMembers}
	g.Roles[roleMember] = &Role{ID: roleMember, Position: 1, Permissions: PermAddReactions}
	g.Roles[roleSpeaker] = &Role{ID: roleSpeaker, Position: 2}
	add := func(id ID, until *time.Time, roles ...ID) {
		g.Members[id] = &Member{UserID: id, Roles: roles, CommunicationDisabledUntil: until}
	}
	add(owner, nil)
	add(admin, nil, roleAdmin)
	add(mod, nil, roleMod, roleMember)
	add(member, nil, roleMember)
	add(muted, nil, roleMember)
	add(both, nil, roleMember, roleSpeaker)
	add(timed, &later, roleMember)
	add(timedAd, &later, roleAdmin)
	add(9999, &earlier, roleMember) // a timeout that has ended

	ch := func(id ID, typ int, parent ID, ow ...Overwrite) *Channel {
		c := &Channel{ID: id, Type: typ, GuildID: guildID, ParentID: parent, PermissionOverwrites: ow}
		g.Channels[id] = c
		return c
	}
	plain := ch(300, ChannelGuildText, 0)
	readOnly := ch(301, ChannelGuildText, 0,
		Overwrite{ID: guildID, Type: 0, Deny: PermSendMessages},
		Overwrite{ID: roleSpeaker, Type: 0, Allow: PermSendMessages},
		Overwrite{ID: muted, Type: 1, Deny: PermSendMessages},
	)
	// Role overwrites combine: one role's allow beats another role's deny.
	mixed := ch(302, ChannelGuildText, 0,
		Overwrite{ID: roleMember, Type: 0, Deny: PermSendMessages},
		Overwrite{ID: roleSpeaker, Type: 0, Allow: PermSendMessages},
		Overwrite{ID: member, Type: 1, Allow: PermSendMessages},
	)
	hidden := ch(303, ChannelGuildText, 0, Overwrite{ID: guildID, Type: 0, Deny: PermViewChannel},
		Overwrite{ID: roleMod, Type: 0, Allow: PermViewChannel})
	thread := ch(304, ChannelPublicThread, hidden.ID)
	threadInOpen := ch(305, ChannelPublicThread, readOnly.ID,
		// Threads carry no overwrites; anything here must be ignored.
		Overwrite{ID: guildID, Type: 0, Deny: PermViewChannel})

	everyone := PermViewChannel | PermSendMessages | PermReadMessageHistory | PermEmbedLinks
	tests := []struct {
		name string
		c    *Channel // nil: base permissions
		user ID
		want Permissions
	}{
		{"owner has everything", nil, owner, PermAll},
		{"owner ignores overwrites", hidden, owner, PermAll},
		{"administrator has everything", nil, admin, PermAll},
		{"administrator ignores overwrites", hidden, admin, PermAll},
		{"roles add to @everyone", nil, mod, everyone | PermBanMembers | PermKickMembers | PermAddReactions},
		{"member in a plain channel", plain, member, everyone | PermAddReactions},
		{"@everyone overwrite denies sending (and embedding with it)", readOnly, member, PermViewChannel | PermReadMessageHistory | PermAddReactions},
		{"role allow beats the @everyone deny", readOnly, both, everyone | PermAddReactions},
		{"member deny beats nothing allowed", readOnly, muted, PermViewChannel | PermReadMessageHistory | PermAddReactions},
		{"role allow beats another role's deny", mixed, both, everyone | PermAddReactions},
		{"member allow beats the role deny", mixed, member, everyone | PermAddReactions},
		{"role deny alone holds", mixed, muted, PermViewChannel | PermReadMessageHistory | PermAddReactions},
		{"no VIEW_CHANNEL means nothing", hidden, member, 0},
		{"a role may reveal a hidden channel", hidden, mod, everyone | PermBanMembers | PermKickMembers | PermAddReactions},
		{"timed-out member keeps only view and history", nil, timed, PermViewChannel | PermReadMessageHistory},
		{"timed-out member in a channel", plain, timed, PermViewChannel | PermReadMessageHistory},
		{"overwrites cannot lift a timeout", mixed, timed, PermViewChannel | PermReadMessageHistory},
		{"timed-out administrator keeps everything", plain, timedAd, PermAll},
		{"an ended timeout takes nothing", plain, 9999, everyone | PermAddReactions},
		{"thread inherits the parent's overwrites", thread, member, 0},
		{"thread inherits the parent's reveal", thread, mod, everyone | PermBanMembers | PermKickMembers | PermAddReactions},
		{"thread ignores its own overwrites", threadInOpen, both, everyone | PermAddReactions},
		{"a non-member has nothing", plain, nobody, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Permissions
			if tt.c == nil {
				got = basePermissions(g, tt.user, now)
			} else {
				got = channelPermissions(g, tt.c, tt.user, now)
			}
			if got != tt.want {
				t.Errorf("got %b, want %b (missing %b, extra %b)", got, tt.want, tt.want&^got, got&^tt.want)
			}
		})
	}
	// The exported forms read the wall clock; a guild without timeouts gives the same.
	if got := ComputeChannelPermissions(g, readOnly, both); got != everyone|PermAddReactions {
		t.Errorf("ComputeChannelPermissions = %b", got)
	}
	if got := ComputeBasePermissions(g, owner); got != PermAll {
		t.Errorf("ComputeBasePermissions(owner) = %b", got)
	}
}

func TestHierarchy(t *testing.T) {
	t.Parallel()
	const guildID ID = 100
	g := newGuild(guildID, "g", 1)
	g.Roles[10] = &Role{ID: 10, Position: 3}
	g.Roles[11] = &Role{ID: 11, Position: 2}
	g.Roles[12] = &Role{ID: 12, Position: 2} // same position as 11, younger: ranks lower
	for id, roles := range map[ID][]ID{1: nil, 2: {10}, 3: {11}, 4: {12}, 5: nil, 6: {11, 12}} {
		g.Members[id] = &Member{UserID: id, Roles: roles}
	}
	tests := []struct {
		actor, target ID
		want          bool
	}{
		{1, 2, true},  // the owner outranks everyone
		{2, 1, false}, // nobody outranks the owner
		{2, 3, true},
		{3, 2, false},
		{3, 3, false}, // equal is not above
		{3, 4, true},  // same position, older role
		{4, 3, false},
		{3, 5, true}, // any role beats @everyone alone
		{5, 5, false},
		{6, 3, false}, // top role decides: 11 vs 11
	}
	for _, tt := range tests {
		if got := outranks(g, tt.actor, tt.target); got != tt.want {
			t.Errorf("outranks(%d, %d) = %v, want %v", tt.actor, tt.target, got, tt.want)
		}
	}
	if !canManageRole(g, 2, g.Roles[11]) || canManageRole(g, 3, g.Roles[11]) || canManageRole(g, 3, g.Roles[10]) || !canManageRole(g, 1, g.Roles[10]) {
		t.Error("canManageRole does not follow the hierarchy")
	}
}
