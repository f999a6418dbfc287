package tools

import (
	"testing"

	"github.com/gavelbot/gavel/internal/discord"
)

// TestJailOverwrite: the jail's bits are set, the role's other bits kept, and a bit gavel
// does not hold in the channel left alone (Discord refuses an overwrite naming one).
func TestJailOverwrite(t *testing.T) {
	t.Parallel()
	const role = 42
	const addReactions = 1 << 6
	all := uint64(permAll)
	for name, tc := range map[string]struct {
		cur    discord.Overwrite
		jail   bool
		have   uint64
		wantOW discord.Overwrite
	}{
		"none yet": {have: all,
			wantOW: discord.Overwrite{ID: role, Deny: permViewChannel | permSendMessages}},
		"allowed before, other bits kept": {cur: discord.Overwrite{ID: role, Allow: permViewChannel | addReactions, Deny: permEmbedLinks}, have: all,
			wantOW: discord.Overwrite{ID: role, Allow: addReactions, Deny: permEmbedLinks | permViewChannel | permSendMessages}},
		"gavel lacks Send Messages there": {have: permViewChannel | permManageRoles,
			wantOW: discord.Overwrite{ID: role, Deny: permViewChannel}},
		"the jail channel": {cur: discord.Overwrite{ID: role, Deny: permViewChannel | addReactions}, jail: true, have: all,
			wantOW: discord.Overwrite{ID: role, Allow: permViewChannel | permSendMessages | permReadMessageHistory, Deny: addReactions}},
	} {
		if got := jailOverwrite(tc.cur, role, tc.jail, tc.have); got != tc.wantOW {
			t.Errorf("%s: %+v; want %+v", name, got, tc.wantOW)
		}
	}
}
