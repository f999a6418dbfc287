package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// amCmdWorld is the automod world with a member who has Manage Server (and so, before any
// rank, the automod command) and gavel running.
type amCmdWorld struct {
	*automodWorld
	admin discordtest.ID
}

func startAutoModCmdWorld(t *testing.T) *amCmdWorld {
	t.Helper()
	w := &amCmdWorld{automodWorld: newAutomodWorld(t)}
	adminRole := w.s.AddRole(w.guild, "admins", 1, discordtest.PermManageGuild)
	w.admin = w.s.AddUser("admin", false)
	w.s.AddMember(w.guild, w.admin, adminRole)
	w.start(t)
	return w
}

// say sends a prefix command in #general and returns gavel's reply, which must contain
// every one of want.
func (w *amCmdWorld) say(t *testing.T, user discordtest.ID, text string, want ...string) string {
	t.Helper()
	bot := func() []discordtest.Message {
		var out []discordtest.Message
		for _, m := range w.s.Messages(w.general) {
			if m.AuthorID == w.s.BotID() {
				out = append(out, m)
			}
		}
		return out
	}
	before := len(bot())
	w.s.SendMessage(w.general, user, text)
	waitFor(t, "the reply to "+text, func() bool { return len(bot()) > before })
	reply := bot()[before].Content
	for _, s := range want {
		if !strings.Contains(reply, s) {
			t.Errorf("%s: reply %q does not contain %q", text, reply, s)
		}
	}
	return reply
}

// slash runs /automod with the subcommand and returns the ephemeral reply.
func (w *amCmdWorld) slash(t *testing.T, user discordtest.ID, opt discordtest.CommandOption, want ...string) string {
	t.Helper()
	ia := w.s.SlashCommand(w.guild, w.general, user, "automod", opt)
	ctx, cancel := context.WithTimeout(context.Background(), eventBound)
	defer cancel()
	msgs, err := ia.WaitResponses(ctx, 1)
	if err != nil {
		t.Fatalf("/automod %s: %v", opt.Name, err)
	}
	if msgs[0].Flags&discordtest.MessageFlagEphemeral == 0 {
		t.Errorf("/automod %s: the reply is public", opt.Name)
	}
	for _, s := range want {
		if !strings.Contains(msgs[0].Content, s) {
			t.Errorf("/automod %s: reply %q does not contain %q", opt.Name, msgs[0].Content, s)
		}
	}
	return msgs[0].Content
}

// writes counts the AutoMod rule changes in Discord's audit log (every create, update and
// delete call leaves one).
func (w *amCmdWorld) writes() int {
	n := 0
	for _, e := range w.s.AuditLog(w.guild) {
		switch e.ActionType {
		case discordtest.AuditAutoModRuleCreate, discordtest.AuditAutoModRuleUpdate, discordtest.AuditAutoModRuleDelete:
			n++
		}
	}
	return n
}

func (w *amCmdWorld) ruleKeywords(t *testing.T, name string) []string {
	t.Helper()
	for _, r := range w.s.AutoModRules(w.guild) {
		if r.Name == name {
			var m struct {
				KeywordFilter []string `json:"keyword_filter"`
			}
			if err := json.Unmarshal(r.TriggerMetadata, &m); err != nil {
				t.Fatal(err)
			}
			return m.KeywordFilter
		}
	}
	t.Fatalf("no rule %q in the fake", name)
	return nil
}

func TestAutoModCommand(t *testing.T) {
	t.Parallel()
	w := startAutoModCmdWorld(t)

	// Registered for members with Manage Server, rule names autocompleted.
	var reg discordtest.Command
	waitFor(t, "the automod command's registration", func() bool {
		for _, c := range w.s.Commands(w.guild) {
			if c.Name == "automod" {
				reg = c
				return true
			}
		}
		return false
	})
	if reg.DefaultMemberPermissions == nil || *reg.DefaultMemberPermissions != "32" {
		t.Errorf("automod's default_member_permissions = %v; want 32 (Manage Server)", reg.DefaultMemberPermissions)
	}
	if opts := string(reg.Options); !strings.Contains(opts, `"name":"rule"`) || !strings.Contains(opts, `"autocomplete":true`) {
		t.Errorf("automod's options %s have no autocompleted rule", opts)
	}

	w.say(t, w.admin, "$automod", "no AutoMod rules", "$automod create")
	w.say(t, w.mod, "$automod list", "You need the Manage Server permission")

	// Create a keyword rule with a custom block message, an alert and a timeout.
	w.say(t, w.admin, `$automod create "nitro scams" -keywords "free nitro", scam* -allow scampi -message No scams here -alert `+
		mentionAs("<#", w.alerts)+" -timeout 10m",
		`Created AutoMod rule "nitro scams"`, "2 keywords", "1 allowed")
	rules := w.s.AutoModRules(w.guild)
	if len(rules) != 1 || rules[0].TriggerType != 1 || !rules[0].Enabled {
		t.Fatalf("rules after create = %+v", rules)
	}
	if got := w.ruleKeywords(t, "nitro scams"); strings.Join(got, "|") != "free nitro|scam*" {
		t.Errorf("keywords = %q", got)
	}
	var acts []struct {
		Type     int `json:"type"`
		Metadata struct {
			CustomMessage   string `json:"custom_message"`
			ChannelID       string `json:"channel_id"`
			DurationSeconds int    `json:"duration_seconds"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(rules[0].Actions, &acts); err != nil || len(acts) != 3 || acts[0].Metadata.CustomMessage != "No scams here" ||
		acts[1].Metadata.ChannelID != w.alerts.String() || acts[2].Metadata.DurationSeconds != 600 {
		t.Errorf("actions = %s (%v)", rules[0].Actions, err)
	}
	waitFor(t, "the audit-log report of the creation", func() bool {
		m, ok := w.botReply(w.auditlog, `created AutoMod rule "nitro scams"`)
		return ok && strings.Contains(m.Content, w.admin.String())
	})

	w.say(t, w.admin, "$automod list", "AutoMod rules (1)", `"nitro scams"`, "keyword, enabled")
	w.say(t, w.admin, `$automod show "Nitro Scams"`, `"free nitro"`, `"scam*"`, "Allow list (1)")

	// Keywords added in the prefix and slash forms; the audit log hears of each.
	w.say(t, w.admin, `$automod keywords add "nitro scams" keywords "steam gift", giveaway`,
		`Changed AutoMod rule "nitro scams"`, `added "steam gift", "giveaway"`)
	w.slash(t, w.admin, discordtest.SubCommandGroup("keywords", discordtest.SubCommand("remove",
		discordtest.StringOpt("rule", "nitro scams"), discordtest.StringOpt("list", "keywords"), discordtest.StringOpt("entries", "giveaway"))),
		`removed "giveaway"`)
	if got := w.ruleKeywords(t, "nitro scams"); strings.Join(got, "|") != "free nitro|scam*|steam gift" {
		t.Errorf("keywords after add and remove = %q", got)
	}
	w.say(t, w.admin, `$automod test say "free nitro" please`, `fires on keyword "free nitro"`, "bytes 5–15")
	w.say(t, w.admin, `$automod keywords remove "nitro scams" keywords nope`, `has no "nope"`, "nothing changed")

	// Test a message: which rule fires, on which keyword, where.
	w.slash(t, w.admin, discordtest.SubCommand("test", discordtest.StringOpt("message", "get free nitro now")),
		`rule "nitro scams" fires on keyword "free nitro"`, `"free nitro" at bytes 4–14, characters 4–14`)

	// Refused: an invalid rule changes nothing and makes no change on Discord.
	before := w.writes()
	w.say(t, w.admin, `$automod edit "nitro scams" -regex "(unclosed"`, "nitro scams", "regex", "Nothing was changed")
	many := make([]string, 11)
	for i := range many {
		many[i] = `"r` + string(rune('a'+i)) + `"`
	}
	w.slash(t, w.admin, discordtest.SubCommand("create", discordtest.StringOpt("name", "too many"),
		discordtest.StringOpt("regex", strings.Join(many, " "))), "regex_patterns", "10")
	w.say(t, w.admin, `$automod create other -timeout 5 weeks`, "4 weeks", "Nothing was created")
	if w.writes() != before || len(w.s.AutoModRules(w.guild)) != 1 {
		t.Errorf("a refused change reached Discord: %d writes (was %d), %d rules", w.writes(), before, len(w.s.AutoModRules(w.guild)))
	}

	// Autocomplete of rule names, for those allowed to run the command only.
	w.say(t, w.admin, `$automod create "link spam" -keywords http*`, `Created AutoMod rule "link spam"`)
	ac := w.s.Autocomplete(w.guild, w.general, w.admin, "automod",
		discordtest.SubCommand("disable", discordtest.Focused(discordtest.StringOpt("rule", "spa"))))
	var choices struct {
		Choices []struct{ Name, Value string } `json:"choices"`
	}
	waitFor(t, "the autocomplete answer", func() bool {
		typ, data, ok := w.s.Callback(ac.ID)
		return ok && typ == discordtest.CallbackAutocompleteResult && json.Unmarshal(data, &choices) == nil
	})
	if len(choices.Choices) != 1 || choices.Choices[0].Value != "link spam" {
		t.Errorf("choices for %q = %+v", "spa", choices.Choices)
	}
	// Inside the keywords group too.
	ac = w.s.Autocomplete(w.guild, w.general, w.admin, "automod", discordtest.SubCommandGroup("keywords",
		discordtest.SubCommand("add", discordtest.Focused(discordtest.StringOpt("rule", "NITRO")))))
	waitFor(t, "the autocomplete answer in a group", func() bool {
		typ, data, ok := w.s.Callback(ac.ID)
		return ok && typ == discordtest.CallbackAutocompleteResult && json.Unmarshal(data, &choices) == nil
	})
	if len(choices.Choices) != 1 || choices.Choices[0].Value != "nitro scams" {
		t.Errorf("choices for %q in keywords add = %+v", "NITRO", choices.Choices)
	}
	ac = w.s.Autocomplete(w.guild, w.general, w.mod, "automod",
		discordtest.SubCommand("show", discordtest.Focused(discordtest.StringOpt("rule", ""))))
	waitFor(t, "the autocomplete answer to a member without permission", func() bool {
		typ, data, ok := w.s.Callback(ac.ID)
		return ok && typ == discordtest.CallbackAutocompleteResult && json.Unmarshal(data, &choices) == nil
	})
	if len(choices.Choices) != 0 {
		t.Errorf("a member without permission got suggestions %+v", choices.Choices)
	}

	// A name another rule has (in any letter case) is refused, in create and in edit, and
	// reaches Discord neither way: a rules file could not hold both.
	before = w.writes()
	w.say(t, w.admin, `$automod create "Link Spam" -keywords www*`, `AutoMod rule`, `is already named "link spam"`, "a name no other rule of this server has", "Nothing was changed")
	w.slash(t, w.admin, discordtest.SubCommand("edit", discordtest.StringOpt("rule", "nitro scams"), discordtest.StringOpt("name", "link spam")),
		`is already named "link spam"`)
	if w.writes() != before || len(w.s.AutoModRules(w.guild)) != 2 {
		t.Errorf("a duplicate name reached Discord: %d writes (was %d), %d rules", w.writes(), before, len(w.s.AutoModRules(w.guild)))
	}
	// A preset rule's presets read as words, not as a Go set.
	w.say(t, w.admin, `$automod create "bad words" -trigger keyword_preset -presets profanity,sexual_content`, `Created AutoMod rule "bad words"`)
	w.say(t, w.admin, `$automod edit "bad words" -presets slurs`, "profanity, sexual content → slurs")
	w.say(t, w.admin, `$automod delete "bad words"`, `Deleted AutoMod rule "bad words"`)

	// Disable, then delete.
	w.slash(t, w.admin, discordtest.SubCommand("disable", discordtest.StringOpt("rule", "link spam")), "enabled: true → false")
	for _, r := range w.s.AutoModRules(w.guild) {
		if r.Name == "link spam" && r.Enabled {
			t.Error("link spam is still enabled")
		}
	}
	w.slash(t, w.mod, discordtest.SubCommand("delete", discordtest.StringOpt("rule", "link spam")), "Manage Server")
	w.say(t, w.admin, `$automod delete "link spam"`, `Deleted AutoMod rule "link spam"`)
	w.say(t, w.admin, `$automod delete "link spam"`, `No AutoMod rule is named "link spam"`, `"nitro scams"`)
	if rules := w.s.AutoModRules(w.guild); len(rules) != 1 || rules[0].Name != "nitro scams" {
		t.Errorf("rules after delete = %+v", rules)
	}
	waitFor(t, "the audit-log report of the deletion", func() bool {
		_, ok := w.botReply(w.auditlog, `deleted AutoMod rule "link spam"`)
		return ok
	})
}
