package discordtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// restCode returns the Discord error code and HTTP status of a disgo REST error.
func restCode(t testing.TB, err error) (int, int) {
	t.Helper()
	var re *rest.Error
	if !errors.As(err, &re) {
		t.Fatalf("want a Discord error, got %v", err)
	}
	return int(re.Code), re.Response.StatusCode
}

func reply(content string, flags discord.MessageFlags) discord.InteractionResponse {
	return discord.InteractionResponse{Type: discord.InteractionResponseTypeCreateMessage,
		Data: discord.MessageCreate{Content: content, Flags: flags, AllowedMentions: &discord.AllowedMentions{}}}
}

func ptr[T any](v T) *T { return &v }

func TestSlashCommandDecodesInDisgo(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	r := disgoREST(t, s)
	cmds, err := r.SetGuildCommands(snow(s.BotID()), snow(w.guild), []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "ban", Description: "Ban a member", Options: []discord.ApplicationCommandOption{
			discord.ApplicationCommandOptionUser{Name: "user", Description: "who", Required: true},
			discord.ApplicationCommandOptionString{Name: "reason", Description: "why"},
			discord.ApplicationCommandOptionInt{Name: "purge", Description: "days"},
			discord.ApplicationCommandOptionBool{Name: "silent", Description: "no DM"},
		}},
	})
	if err != nil {
		t.Fatalf("register commands: %v", err)
	}
	c, _ := connect(t, s, intentsNoPrivileged)

	ia := s.SlashCommand(w.guild, w.channel, w.mod, "ban",
		discordtest.UserOpt("user", w.member), discordtest.StringOpt("reason", "spam"),
		discordtest.IntOpt("purge", 1), discordtest.BoolOpt("silent", true))
	p := c.dispatch("INTERACTION_CREATE")
	if string(p.D) != string(ia.Payload) {
		t.Errorf("dispatched payload differs from Interaction.Payload")
	}
	got, err := discord.UnmarshalInteraction(p.D)
	if err != nil {
		t.Fatalf("disgo cannot decode INTERACTION_CREATE: %v\n%s", err, p.D)
	}
	cmd, ok := got.(discord.ApplicationCommandInteraction)
	if !ok {
		t.Fatalf("decoded %T, want ApplicationCommandInteraction", got)
	}
	data := cmd.SlashCommandInteractionData()
	if cmd.ID() != snow(ia.ID) || cmd.Token() != ia.Token || data.CommandName() != "ban" || data.CommandID() != cmds[0].ID() {
		t.Errorf("interaction id/token/name/command = %v %q %q %v", cmd.ID(), cmd.Token(), data.CommandName(), data.CommandID())
	}
	if data.User("user").ID != snow(w.member) || data.Member("user").User.ID != snow(w.member) ||
		data.String("reason") != "spam" || data.Int("purge") != 1 || !data.Bool("silent") {
		t.Errorf("options decoded as user %v member %v reason %q purge %d silent %v", data.User("user").ID,
			data.Member("user").User.ID, data.String("reason"), data.Int("purge"), data.Bool("silent"))
	}
	// The resolved member is partial: no user, deaf or mute; its roles are stated.
	var raw struct {
		Data struct {
			Resolved struct {
				Members map[string]map[string]json.RawMessage `json:"members"`
			} `json:"resolved"`
		} `json:"data"`
	}
	if err := json.Unmarshal(p.D, &raw); err != nil {
		t.Fatal(err)
	}
	rm := raw.Data.Resolved.Members[w.member.String()]
	for _, absent := range []string{"user", "deaf", "mute"} {
		if _, ok := rm[absent]; ok {
			t.Errorf("resolved member has %q: %v", absent, rm)
		}
	}
	if _, ok := rm["roles"]; !ok {
		t.Errorf("resolved member without roles: %v", rm)
	}
	if cmd.GuildID() == nil || *cmd.GuildID() != snow(w.guild) || cmd.Channel().ID() != snow(w.channel) ||
		cmd.User().ID != snow(w.mod) || !cmd.Member().Permissions.Has(discord.PermissionBanMembers) ||
		cmd.AppPermissions() == nil || !cmd.AppPermissions().Has(discord.PermissionAdministrator) {
		t.Errorf("interaction context: guild %v channel %v user %v perms %v app %v",
			cmd.GuildID(), cmd.Channel().ID(), cmd.User().ID, cmd.Member().Permissions, cmd.AppPermissions())
	}

	// A subcommand carries its options nested.
	s.SlashCommand(w.guild, w.channel, w.mod, "cases", discordtest.SubCommand("show", discordtest.IntOpt("number", 7)))
	got, err = discord.UnmarshalInteraction(c.dispatch("INTERACTION_CREATE").D)
	if err != nil {
		t.Fatal(err)
	}
	data = got.(discord.ApplicationCommandInteraction).SlashCommandInteractionData()
	if data.CommandPath() != "/cases/show" || data.Int("number") != 7 {
		t.Errorf("subcommand decoded as %q number %d", data.CommandPath(), data.Int("number"))
	}
}

func TestDMSlashCommand(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, _ := connect(t, s, discordtest.IntentDirectMessages)
	ia := s.SlashCommand(0, 0, w.member, "cases")
	got, err := discord.UnmarshalInteraction(c.dispatch("INTERACTION_CREATE").D)
	if err != nil {
		t.Fatal(err)
	}
	if got.GuildID() != nil || got.Member() != nil || got.User().ID != snow(w.member) || got.Context() != discord.InteractionContextTypeBotDM {
		t.Errorf("DM interaction: guild %v member %v user %v", got.GuildID(), got.Member(), got.User().ID)
	}
	if dm, ok := s.DMChannel(w.member); !ok || ia.ChannelID != dm {
		t.Errorf("DM interaction channel %s, DM channel %s %v", ia.ChannelID, dm, ok)
	}
	if err := disgoREST(t, s).CreateInteractionResponse(snow(ia.ID), ia.Token, reply("no cases", 0)); err != nil {
		t.Fatal(err)
	}
	if msgs := s.Messages(ia.ChannelID); len(msgs) != 1 || msgs[0].Content != "no cases" {
		t.Errorf("DM channel messages = %+v", msgs)
	}
}

func TestCallbackRecordsWhatTheModeratorSaw(t *testing.T) {
	t.Parallel()
	var rep reports
	s := newFake(t, rep.option())
	w := newWorld(s)
	r := disgoREST(t, s)
	c, _ := connect(t, s, intentsNoPrivileged)

	ia := s.SlashCommand(w.guild, w.channel, w.mod, "ban", discordtest.UserOpt("user", w.member))
	c.dispatch("INTERACTION_CREATE")
	if ia.Acknowledged() {
		t.Fatal("acknowledged before any callback")
	}
	if err := r.CreateInteractionResponse(snow(ia.ID), ia.Token, reply("Banned member (case #1)", discord.MessageFlagEphemeral)); err != nil {
		t.Fatalf("callback: %v", err)
	}
	if !ia.Acknowledged() {
		t.Fatal("not acknowledged after the callback")
	}
	resp := ia.Responses()
	if len(resp) != 1 || resp[0].Content != "Banned member (case #1)" || resp[0].Flags&discordtest.MessageFlagEphemeral == 0 ||
		resp[0].AuthorID != s.BotID() {
		t.Errorf("responses = %+v", resp)
	}
	var mentions struct {
		Parse *[]string `json:"parse"`
		Users *[]string `json:"users"`
	}
	if err := json.Unmarshal(resp[0].AllowedMentions, &mentions); err != nil || (mentions.Parse != nil && len(*mentions.Parse) > 0) {
		t.Errorf("allowed_mentions = %s, want nothing parsed", resp[0].AllowedMentions)
	}
	// An ephemeral response is not in the channel and dispatches nothing.
	if msgs := s.Messages(w.channel); len(msgs) != 0 {
		t.Errorf("channel messages = %+v, want none", msgs)
	}
	c.sync()

	// A second response is refused and reported.
	err := r.CreateInteractionResponse(snow(ia.ID), ia.Token, reply("again", 0))
	if code, status := restCode(t, err); code != 40060 || status != http.StatusBadRequest {
		t.Errorf("second callback: %d %d, want 40060 400", code, status)
	}
	if reps := rep.all(); len(reps) != 1 || !strings.Contains(reps[0], "acknowledged twice") {
		t.Errorf("reports = %q", reps)
	}

	// A public follow-up is a channel message with MESSAGE_CREATE.
	fu, err := r.CreateFollowupMessage(snow(s.BotID()), ia.Token, discord.MessageCreate{Content: "Member was banned.", AllowedMentions: &discord.AllowedMentions{}})
	if err != nil {
		t.Fatalf("follow-up: %v", err)
	}
	p := c.dispatch("MESSAGE_CREATE")
	var m struct {
		ID                  discordtest.ID `json:"id"`
		WebhookID           discordtest.ID `json:"webhook_id"`
		Type                int            `json:"type"`
		InteractionMetadata struct {
			ID discordtest.ID `json:"id"`
		} `json:"interaction_metadata"`
	}
	if err := json.Unmarshal(p.D, &m); err != nil || m.ID != discordtest.ID(fu.ID) || m.WebhookID != s.BotID() || m.Type != 20 || m.InteractionMetadata.ID != ia.ID {
		t.Errorf("follow-up MESSAGE_CREATE = %s (%v)", p.D, err)
	}
	if resp := ia.Responses(); len(resp) != 2 || resp[1].Content != "Member was banned." || resp[1].Flags != 0 {
		t.Errorf("responses after follow-up = %+v", resp)
	}
	if msgs := s.Messages(w.channel); len(msgs) != 1 || msgs[0].ID != discordtest.ID(fu.ID) {
		t.Errorf("channel messages = %+v", msgs)
	}

	// A follow-up carrying only a file (a case export) is not empty.
	if _, err := r.CreateFollowupMessage(snow(s.BotID()), ia.Token, discord.MessageCreate{
		Files: []*discord.File{discord.NewFile("cases.csv", "", strings.NewReader("number,action\n1,ban\n"))},
		Flags: discord.MessageFlagEphemeral}); err != nil {
		t.Fatalf("follow-up with a file: %v", err)
	}
	if resp := ia.Responses(); len(resp) != 3 || resp[2].Flags != discordtest.MessageFlagEphemeral {
		t.Errorf("responses after the file = %+v", resp)
	}

	// Edit and delete a follow-up.
	if _, err := r.UpdateFollowupMessage(snow(s.BotID()), ia.Token, fu.ID, discord.MessageUpdate{Content: ptr("Member was banned. (edited)")}); err != nil {
		t.Fatalf("edit follow-up: %v", err)
	}
	c.dispatch("MESSAGE_UPDATE")
	if resp := ia.Responses(); resp[1].Content != "Member was banned. (edited)" || resp[1].EditedTimestamp == nil {
		t.Errorf("edited follow-up = %+v", resp[1])
	}
	if err := r.DeleteFollowupMessage(snow(s.BotID()), ia.Token, fu.ID); err != nil {
		t.Fatalf("delete follow-up: %v", err)
	}
	c.dispatch("MESSAGE_DELETE")
	if resp := ia.Responses(); !resp[1].Deleted {
		t.Errorf("deleted follow-up = %+v", resp[1])
	}
}

func TestCallbackWindowAndTokenLifetime(t *testing.T) {
	t.Parallel()
	var rep reports
	clock := newStepClock()
	s := newFake(t, rep.option(), discordtest.WithClock(clock.Now))
	w := newWorld(s)
	r := disgoREST(t, s)

	// Too late for the callback.
	late := s.SlashCommand(w.guild, w.channel, w.mod, "ping")
	clock.Advance(3*time.Second + time.Millisecond)
	err := r.CreateInteractionResponse(snow(late.ID), late.Token, reply("pong", 0))
	if code, status := restCode(t, err); code != 10062 || status != http.StatusNotFound {
		t.Errorf("late callback: %d %d, want 10062 404", code, status)
	}
	if late.Acknowledged() {
		t.Error("a late callback acknowledged the interaction")
	}

	// A follow-up before the interaction is acknowledged: the webhook does not exist yet.
	ia := s.SlashCommand(w.guild, w.channel, w.mod, "ping")
	_, err = r.CreateFollowupMessage(snow(s.BotID()), ia.Token, discord.MessageCreate{Content: "early"})
	if code, status := restCode(t, err); code != 10015 || status != http.StatusNotFound {
		t.Errorf("follow-up before the callback: %d %d, want 10015 404", code, status)
	}

	clock.Advance(2 * time.Second)
	if err := r.CreateInteractionResponse(snow(ia.ID), ia.Token, reply("pong", 0)); err != nil {
		t.Fatalf("callback within the window: %v", err)
	}
	clock.Advance(15 * time.Minute)
	_, err = r.CreateFollowupMessage(snow(s.BotID()), ia.Token, discord.MessageCreate{Content: "too late"})
	if code, status := restCode(t, err); code != 10015 || status != http.StatusNotFound {
		t.Errorf("follow-up after 15 minutes: %d %d, want 10015 404", code, status)
	}
	_, err = r.UpdateInteractionResponse(snow(s.BotID()), ia.Token, discord.MessageUpdate{Content: ptr("edit")})
	if code, _ := restCode(t, err); code != 10015 {
		t.Errorf("edit after 15 minutes: %d, want 10015", code)
	}
	if n := len(rep.all()); n != 4 {
		t.Errorf("reports = %q, want 4", rep.all())
	}
}

func TestInteractionWindowOptions(t *testing.T) {
	t.Parallel()
	var rep reports
	clock := newStepClock()
	s := newFake(t, rep.option(), discordtest.WithClock(clock.Now),
		discordtest.WithInteractionWindow(time.Minute), discordtest.WithInteractionTokenTTL(time.Hour))
	w := newWorld(s)
	r := disgoREST(t, s)
	ia := s.SlashCommand(w.guild, w.channel, w.mod, "ping")
	clock.Advance(59 * time.Second)
	if err := r.CreateInteractionResponse(snow(ia.ID), ia.Token, reply("pong", 0)); err != nil {
		t.Fatalf("callback within a 1 minute window: %v", err)
	}
	clock.Advance(30 * time.Minute)
	if _, err := r.CreateFollowupMessage(snow(s.BotID()), ia.Token, discord.MessageCreate{Content: "still here"}); err != nil {
		t.Fatalf("follow-up within a 1 hour token: %v", err)
	}
}

func TestDeferredResponseFilledByEditingOriginal(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	r := disgoREST(t, s)
	c, _ := connect(t, s, intentsNoPrivileged)
	ia := s.SlashCommand(w.guild, w.channel, w.mod, "ban")
	c.dispatch("INTERACTION_CREATE")

	err := r.CreateInteractionResponse(snow(ia.ID), ia.Token, discord.InteractionResponse{
		Type: discord.InteractionResponseTypeDeferredCreateMessage, Data: discord.MessageCreate{Flags: discord.MessageFlagEphemeral}})
	if err != nil {
		t.Fatalf("defer: %v", err)
	}
	resp := ia.Responses()
	if len(resp) != 1 || resp[0].Flags != discordtest.MessageFlagEphemeral|discordtest.MessageFlagLoading {
		t.Fatalf("deferred responses = %+v", resp)
	}

	waited := make(chan []discordtest.Message, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		msgs, _ := ia.WaitResponses(ctx, 1)
		waited <- msgs
	}()
	orig, err := r.UpdateInteractionResponse(snow(s.BotID()), ia.Token, discord.MessageUpdate{
		Embeds: &[]discord.Embed{{Title: "Case #1", Description: "ban"}}, AllowedMentions: &discord.AllowedMentions{}})
	if err != nil {
		t.Fatalf("edit @original: %v", err)
	}
	if msgs := <-waited; len(msgs) != 1 || len(msgs[0].Embeds) != 1 || msgs[0].Flags != discordtest.MessageFlagEphemeral || msgs[0].EditedTimestamp != nil {
		t.Errorf("filled deferred response = %+v", msgs)
	}
	if orig.Flags.Has(discord.MessageFlagLoading) || len(orig.Embeds) != 1 || orig.Embeds[0].Title != "Case #1" {
		t.Errorf("PATCH @original returned %+v", orig)
	}
	c.sync() // ephemeral: no MESSAGE_CREATE nor MESSAGE_UPDATE

	got, err := r.GetInteractionResponse(snow(s.BotID()), ia.Token)
	if err != nil || got.ID != orig.ID {
		t.Errorf("GET @original = %+v, %v", got, err)
	}
	if err := r.DeleteInteractionResponse(snow(s.BotID()), ia.Token); err != nil {
		t.Fatalf("DELETE @original: %v", err)
	}
	if resp := ia.Responses(); !resp[0].Deleted {
		t.Errorf("deleted original = %+v", resp[0])
	}
}

func TestCallbackWithResponse(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	r := disgoREST(t, s)
	c, _ := connect(t, s, intentsNoPrivileged)
	ia := s.SlashCommand(w.guild, w.channel, w.mod, "ping")
	c.dispatch("INTERACTION_CREATE")
	cb, err := r.CreateInteractionResponseWithCallback(snow(ia.ID), ia.Token, reply("pong", 0))
	if err != nil {
		t.Fatalf("callback with_response: %v", err)
	}
	resp := ia.Responses()
	if cb.Interaction.ID != snow(ia.ID) || cb.Interaction.ResponseMessageID != snow(resp[0].ID) || cb.Interaction.ResponseMessageEphemeral ||
		cb.Resource == nil || cb.Resource.Message == nil || cb.Resource.Message.Content != "pong" {
		t.Errorf("callback response = %+v", cb)
	}
	c.dispatch("MESSAGE_CREATE") // a public response is a channel message
}

func TestClickButtonAndUpdateMessage(t *testing.T) {
	t.Parallel()
	var rep reports
	s := newFake(t, rep.option())
	w := newWorld(s)
	r := disgoREST(t, s)
	c, _ := connect(t, s, intentsNoPrivileged)

	// /cases answers with the first page and its buttons.
	list := s.SlashCommand(w.guild, w.channel, w.mod, "cases")
	c.dispatch("INTERACTION_CREATE")
	cb, err := r.CreateInteractionResponseWithCallback(snow(list.ID), list.Token, discord.InteractionResponse{
		Type: discord.InteractionResponseTypeCreateMessage,
		Data: discord.MessageCreate{Content: "page 1", Components: []discord.LayoutComponent{discord.NewActionRow(
			discord.NewPrimaryButton("Next", "cases:page:2"),
			discord.NewPrimaryButton("Prev", "cases:page:0").AsDisabled())}}})
	if err != nil {
		t.Fatalf("post paginated message: %v", err)
	}
	page := cb.Resource.Message
	c.dispatch("MESSAGE_CREATE")
	if ids := strings.Count(string(list.Responses()[0].Components[0]), `"id":`); ids != 3 {
		t.Errorf("components got %d ids, want 3 (the row and its buttons): %s", ids, list.Responses()[0].Components[0])
	}

	click := s.ClickButton(w.guild, w.channel, w.mod, discordtest.ID(page.ID), "cases:page:2")
	got, err := discord.UnmarshalInteraction(c.dispatch("INTERACTION_CREATE").D)
	if err != nil {
		t.Fatalf("disgo cannot decode the click: %v", err)
	}
	ci, ok := got.(discord.ComponentInteraction)
	if !ok || ci.Data.CustomID() != "cases:page:2" || ci.Message.ID != page.ID || ci.User().ID != snow(w.mod) {
		t.Fatalf("click decoded as %T %+v", got, got)
	}

	err = r.CreateInteractionResponse(snow(click.ID), click.Token, discord.InteractionResponse{
		Type: discord.InteractionResponseTypeUpdateMessage,
		Data: discord.MessageUpdate{Content: ptr("page 2"), Components: &[]discord.LayoutComponent{discord.NewActionRow(
			discord.NewPrimaryButton("Prev", "cases:page:1"))}}})
	if err != nil {
		t.Fatalf("UPDATE_MESSAGE: %v", err)
	}
	c.dispatch("MESSAGE_UPDATE")
	msgs := s.Messages(w.channel)
	if len(msgs) != 1 || msgs[0].Content != "page 2" || !strings.Contains(string(msgs[0].Components[0]), "cases:page:1") {
		t.Errorf("channel after UPDATE_MESSAGE = %+v", msgs)
	}
	if resp := click.Responses(); len(resp) != 1 || resp[0].ID != discordtest.ID(page.ID) || resp[0].Content != "page 2" {
		t.Errorf("click responses = %+v", resp)
	}

	// UPDATE_MESSAGE answers components only.
	cmd := s.SlashCommand(w.guild, w.channel, w.mod, "ping")
	err = r.CreateInteractionResponse(snow(cmd.ID), cmd.Token, discord.InteractionResponse{
		Type: discord.InteractionResponseTypeUpdateMessage, Data: discord.MessageUpdate{Content: ptr("x")}})
	if code, status := restCode(t, err); code != 50035 || status != http.StatusBadRequest {
		t.Errorf("UPDATE_MESSAGE to a command: %d %d, want 50035 400", code, status)
	}
	if len(rep.all()) != 1 {
		t.Errorf("reports = %q", rep.all())
	}

	for _, id := range []string{"cases:page:1", "no-such-button"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("clicking %q did not panic", id)
				}
			}()
			if id == "cases:page:1" {
				id = "cases:page:0" // gone after the update
			}
			s.ClickButton(w.guild, w.channel, w.mod, discordtest.ID(page.ID), id)
		}()
	}
}

func TestModalAndAutocomplete(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	r := disgoREST(t, s)
	c, _ := connect(t, s, intentsNoPrivileged)

	ia := s.SlashCommand(w.guild, w.channel, w.mod, "ban", discordtest.UserOpt("user", w.member))
	c.dispatch("INTERACTION_CREATE")
	err := r.CreateInteractionResponse(snow(ia.ID), ia.Token, discord.InteractionResponse{
		Type: discord.InteractionResponseTypeModal,
		Data: discord.ModalCreate{CustomID: "ban:reason", Title: "Reason", Components: []discord.LayoutComponent{
			discord.NewLabel("Reason", discord.NewShortTextInput("reason")),
		}}})
	if err != nil {
		t.Fatalf("modal: %v", err)
	}
	if typ, data, ok := s.Callback(ia.ID); !ok || typ != discordtest.CallbackModal || !strings.Contains(string(data), "ban:reason") {
		t.Errorf("Callback = %d %s %v", typ, data, ok)
	}
	submit := s.SubmitModal(ia, map[string]string{"reason": "raiding"})
	got, err := discord.UnmarshalInteraction(c.dispatch("INTERACTION_CREATE").D)
	if err != nil {
		t.Fatalf("disgo cannot decode the modal submit: %v", err)
	}
	ms, ok := got.(discord.ModalSubmitInteraction)
	if !ok || ms.Data.CustomID != "ban:reason" || ms.Data.Text("reason") != "raiding" {
		t.Fatalf("modal submit decoded as %T %+v", got, got)
	}
	if err := r.CreateInteractionResponse(snow(submit.ID), submit.Token, reply("Banned: raiding", 0)); err != nil {
		t.Fatalf("answer the modal submit: %v", err)
	}
	c.dispatch("MESSAGE_CREATE")

	ac := s.Autocomplete(w.guild, w.channel, w.mod, "cases", discordtest.Focused(discordtest.StringOpt("query", "sp")))
	got, err = discord.UnmarshalInteraction(c.dispatch("INTERACTION_CREATE").D)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := got.(discord.AutocompleteInteraction); !ok || a.Data.Focused().Name != "query" {
		t.Fatalf("autocomplete decoded as %T %+v", got, got)
	}
	err = r.CreateInteractionResponse(snow(ac.ID), ac.Token, discord.InteractionResponse{
		Type: discord.InteractionResponseTypeAutocompleteResult,
		Data: discord.AutocompleteResult{Choices: []discord.AutocompleteChoice{discord.AutocompleteChoiceString{Name: "spam", Value: "spam"}}}})
	if err != nil {
		t.Fatalf("autocomplete result: %v", err)
	}
	if typ, data, ok := s.Callback(ac.ID); !ok || typ != discordtest.CallbackAutocompleteResult || !strings.Contains(string(data), `"spam"`) {
		t.Errorf("Callback = %d %s %v", typ, data, ok)
	}
}

// TestOverlongResponsesRefused: an interaction's response, its edit and a follow-up are held
// to a message's limits as Discord holds them (400 50035), so a test catches gavel sending
// what Discord would refuse: the moderator would get no answer at all.
func TestOverlongResponsesRefused(t *testing.T) {
	t.Parallel()
	var rep reports
	s := newFake(t, rep.option())
	w := newWorld(s)
	r := disgoREST(t, s)
	long := strings.Repeat("x", 2001)

	ia := s.SlashCommand(w.guild, w.channel, w.mod, "ping")
	err := r.CreateInteractionResponse(snow(ia.ID), ia.Token, reply(long, 0))
	if code, status := restCode(t, err); code != 50035 || status != http.StatusBadRequest {
		t.Errorf("a callback of 2001 characters: %d %d, want 50035 400", code, status)
	}
	if ia.Acknowledged() {
		t.Error("a refused callback acknowledged the interaction")
	}
	if err := r.CreateInteractionResponse(snow(ia.ID), ia.Token, discord.InteractionResponse{
		Type: discord.InteractionResponseTypeDeferredCreateMessage, Data: discord.MessageCreate{Flags: discord.MessageFlagEphemeral}}); err != nil {
		t.Fatalf("defer: %v", err)
	}
	_, err = r.UpdateInteractionResponse(snow(s.BotID()), ia.Token, discord.MessageUpdate{Content: ptr(long)})
	if code, _ := restCode(t, err); code != 50035 {
		t.Errorf("an edit of 2001 characters: %d, want 50035", code)
	}
	fields := make([]discord.EmbedField, 26)
	for i := range fields {
		fields[i] = discord.EmbedField{Name: "n", Value: "v"}
	}
	_, err = r.UpdateInteractionResponse(snow(s.BotID()), ia.Token, discord.MessageUpdate{Embeds: &[]discord.Embed{{Fields: fields}}})
	if code, _ := restCode(t, err); code != 50035 {
		t.Errorf("an edit with 26 embed fields: %d, want 50035", code)
	}
	_, err = r.CreateFollowupMessage(snow(s.BotID()), ia.Token, discord.MessageCreate{Embeds: []discord.Embed{
		{Description: strings.Repeat("d", 4000)}, {Description: strings.Repeat("d", 2001)}}})
	if code, _ := restCode(t, err); code != 50035 {
		t.Errorf("a follow-up with 6001 characters of embeds: %d, want 50035", code)
	}
	// What fits is accepted.
	if _, err := r.UpdateInteractionResponse(snow(s.BotID()), ia.Token, discord.MessageUpdate{Content: ptr(long[:2000])}); err != nil {
		t.Errorf("an edit of 2000 characters: %v", err)
	}
	if msgs := ia.Responses(); len(msgs) != 1 || len(msgs[0].Content) != 2000 {
		t.Errorf("responses = %d, want the one of 2000 characters", len(msgs))
	}
}
