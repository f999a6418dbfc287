// Package permissions decides who may use which command in a guild. A guild gives its roles
// ranks (0 to 10, higher is more), and each command a required rank; a subcommand without one
// of its own falls back to its parent's ("cases modify" → "cases"). Bot owners and the guild
// owner always pass. A guild that has set up no ranks yet is judged by Discord's own
// permissions instead (Ban Members for ban, …), so gavel works the moment it joins.
package permissions

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
)

// Ranks run from MinRank to MaxRank.
const (
	MinRank = 0
	MaxRank = 10
)

// NoRank is Decision.RequiredRank for a command that has no rank configured, not even through
// a parent.
const NoRank = -1

// Limits on names.
const (
	MaxRankName        = 100
	MaxRankDescription = 500
	MaxCommandName     = 100
)

// Rank is one of a guild's ranks.
type Rank struct {
	Number      int
	Name        string
	Description string
}

// DefaultRanks returns Tux's ranks 0 to 7, which InitRanks creates.
func DefaultRanks() []Rank {
	return []Rank{
		{0, "Member", "A regular member of the server."},
		{1, "Trusted", "A member who has proven reliable."},
		{2, "Junior Moderator", "Entry-level moderation: warnings and short timeouts."},
		{3, "Moderator", "An experienced moderator: bans, kicks, timeouts and jail."},
		{4, "Senior Moderator", "Oversees the moderators: temporary bans and case changes."},
		{5, "Administrator", "Manages the server and gavel's configuration."},
		{6, "Head Administrator", "Oversees the administrators."},
		{7, "Server Owner", "Ultimate authority over the server."},
	}
}

// RoleRank gives a role a rank. Every member has the @everyone role, whose id is the guild's.
type RoleRank struct {
	RoleID discord.RoleID
	Rank   int
}

// CommandRank is the rank a command requires, by its full name ("ban", "cases modify").
type CommandRank struct {
	Command string
	Rank    int
}

// Permission is a set of Discord permission bits, as in a member's computed guild permissions.
type Permission uint64

// The Discord permissions the native fallback uses, and those gavel's tools check for
// itself in a channel.
const (
	KickMembers        Permission = 1 << 1
	BanMembers         Permission = 1 << 2
	Administrator      Permission = 1 << 3
	ManageChannels     Permission = 1 << 4
	ManageGuild        Permission = 1 << 5
	ViewAuditLog       Permission = 1 << 7
	ViewChannel        Permission = 1 << 10
	SendMessages       Permission = 1 << 11
	ManageMessages     Permission = 1 << 13
	EmbedLinks         Permission = 1 << 14
	ReadMessageHistory Permission = 1 << 16
	ManageRoles        Permission = 1 << 28
	ManageThreads      Permission = 1 << 34
	ModerateMembers    Permission = 1 << 40
)

// permissionNames are the names Discord's client shows (Manage Guild is "Manage Server" there).
var permissionNames = map[Permission]string{
	KickMembers:        "Kick Members",
	BanMembers:         "Ban Members",
	Administrator:      "Administrator",
	ManageChannels:     "Manage Channels",
	ManageGuild:        "Manage Server",
	ManageMessages:     "Manage Messages",
	ManageRoles:        "Manage Roles",
	ModerateMembers:    "Moderate Members",
	ViewChannel:        "View Channel",
	SendMessages:       "Send Messages",
	EmbedLinks:         "Embed Links",
	ReadMessageHistory: "Read Message History",
	ManageThreads:      "Manage Threads",
	ViewAuditLog:       "View Audit Log",
}

// BotPermission is a permission the bot itself uses, and what for.
type BotPermission struct {
	Permission Permission
	// Name is the permission's label in the developer portal's URL generator.
	Name string
	Why  string
}

// BotPermissions are the permissions to give gavel's bot when inviting it, in the order
// the README lists them; a test keeps the README's list and number equal to these, and
// every action's BotNeeds among them.
var BotPermissions = []BotPermission{
	{ViewChannel, "View Channels", "see the channels it reads commands in and posts to"},
	{SendMessages, "Send Messages", "reply to commands, post the mod log and the audit log"},
	{EmbedLinks, "Embed Links", "the mod-log entries and case views are embeds"},
	{ReadMessageHistory, "Read Message History", "purge and reply to the commands it answers"},
	{BanMembers, "Ban Members", "ban (members, and users by id: a HACKBAN case), tempban, softban, unban"},
	{KickMembers, "Kick Members", "kick"},
	{ModerateMembers, "Moderate Members", "timeout and untimeout"},
	{ManageRoles, "Manage Roles", "jail and the poll and snippet restrictions"},
	{ManageMessages, "Manage Messages", "purge, and deleting the messages of restricted members"},
	{ManageChannels, "Manage Channels", "slowmode and the jail's channel overwrites"},
	{ViewAuditLog, "View Audit Log", "reconcile pending cases and record actions taken outside gavel"},
	{ManageGuild, "Manage Server", "AutoMod rules"},
}

// BotInvite is BotPermissions as one set: the number in an invite URL's permissions=.
func BotInvite() Permission {
	var p Permission
	for _, b := range BotPermissions {
		p |= b.Permission
	}
	return p
}

// Has reports whether p holds every bit of need. Administrator holds them all.
func (p Permission) Has(need Permission) bool {
	return p&Administrator != 0 || p&need == need
}

// String names the permissions in p as Discord's client does, joined with "and".
func (p Permission) String() string {
	var names []string
	for p != 0 {
		bit := Permission(1) << bits.TrailingZeros64(uint64(p))
		p &^= bit
		if n, ok := permissionNames[bit]; ok {
			names = append(names, n)
		} else {
			names = append(names, fmt.Sprintf("permission bit %d", bits.TrailingZeros64(uint64(bit))))
		}
	}
	switch len(names) {
	case 0:
		return "no permission"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// DefaultNativePermission is what a command needs in the fallback when neither it nor a
// parent is in the table: the permission to manage the server, the safe choice.
const DefaultNativePermission = ManageGuild

// Via values: which rule reached a Decision.
const (
	ViaOwner             = "owner"
	ViaBotOwner          = "bot owner"
	ViaRank              = "rank"
	ViaDiscordPermission = "discord permission"
	// ViaEveryone: a command open to every member (WithOpenCommands).
	ViaEveryone = "everyone"
)

// ErrNotFound is returned when removing something that is not there.
var ErrNotFound = errors.New("not found")

func checkID[T discord.Snowflake](field string, id T) error {
	if id <= 0 {
		return input.Invalid(field, fmt.Sprintf("%d is not a Discord id; ids are positive numbers", id))
	}
	return nil
}

func checkRank(r int) error {
	if r < MinRank || r > MaxRank {
		return input.Invalid("rank", fmt.Sprintf("%d is out of range; accepted: %d to %d", r, MinRank, MaxRank))
	}
	return nil
}

const commandAccepted = "accepted: a command's full name, words of a-z, 0-9, - and _ separated by single spaces, such as ban or cases modify"

// ParseCommand turns what a person typed into a command's full name: letter case and extra
// spaces are forgiven ("Cases  Modify" → "cases modify"), anything else must already be a
// well-formed name. It does not check that the command exists; the Service does.
func ParseCommand(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", input.Invalid("command", "is not valid text; "+commandAccepted)
	}
	name := strings.Join(strings.Fields(strings.ToLower(s)), " ")
	if err := checkCommandName(name); err != nil {
		return "", err
	}
	return name, nil
}

// checkCommandName accepts exactly the canonical form, which the database CHECK also enforces.
func checkCommandName(name string) error {
	if name == "" {
		return input.Invalid("command", "is empty; "+commandAccepted)
	}
	if n := utf8.RuneCountInString(name); n > MaxCommandName {
		return input.Invalid("command", fmt.Sprintf("is %d characters long; at most %d are accepted", n, MaxCommandName))
	}
	for _, w := range strings.Split(name, " ") {
		if w == "" {
			return input.Invalid("command", fmt.Sprintf("%q has an empty word; %s", name, commandAccepted))
		}
		for _, r := range w {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return input.Invalid("command", fmt.Sprintf("%q contains %q; %s", name, r, commandAccepted))
			}
		}
	}
	return nil
}

// chain is the command followed by its parents, nearest first: "config ranks init",
// "config ranks", "config".
func chain(command string) []string {
	out := []string{command}
	for {
		i := strings.LastIndexByte(command, ' ')
		if i < 0 {
			return out
		}
		command = command[:i]
		out = append(out, command)
	}
}

// cleanName trims a rank name and checks it: 1 to 100 characters on one line.
func cleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	const accepted = "accepted: 1 to 100 characters on one line, such as Moderator"
	if !utf8.ValidString(name) {
		return "", input.Invalid("rank name", "is not valid text; "+accepted)
	}
	if name == "" {
		return "", input.Invalid("rank name", "is empty; "+accepted)
	}
	if n := utf8.RuneCountInString(name); n > MaxRankName {
		return "", input.Invalid("rank name", fmt.Sprintf("is %d characters long; %s", n, accepted))
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", input.Invalid("rank name", fmt.Sprintf("%q contains a line break or a control character; %s", name, accepted))
		}
	}
	return name, nil
}

// cleanDescription trims a rank description and checks it: at most 500 characters.
func cleanDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	const accepted = "accepted: up to 500 characters, or none"
	if !utf8.ValidString(d) {
		return "", input.Invalid("rank description", "is not valid text; "+accepted)
	}
	if n := utf8.RuneCountInString(d); n > MaxRankDescription {
		return "", input.Invalid("rank description", fmt.Sprintf("is %d characters long; %s", n, accepted))
	}
	for _, r := range d {
		if r != '\n' && unicode.IsControl(r) {
			return "", input.Invalid("rank description", fmt.Sprintf("contains the control character %U; %s", r, accepted))
		}
	}
	return d, nil
}

// rankLabel is "3 (Moderator)", or "3" for a rank the guild has not named.
func rankLabel(n int, ranks map[int]Rank) string {
	if r, ok := ranks[n]; ok {
		return fmt.Sprintf("%d (%s)", n, r.Name)
	}
	return fmt.Sprint(n)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
