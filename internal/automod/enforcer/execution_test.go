package enforcer

import (
	"strings"
	"testing"
)

func TestDecodeExecution(t *testing.T) {
	ev, err := decodeExecution([]byte(`{"guild_id":"1","action":{"type":3,"metadata":{"duration_seconds":60}},"rule_id":"2",
		"rule_trigger_type":1,"user_id":"3","channel_id":"4","message_id":null,"alert_system_message_id":null,
		"content":"free nitro","matched_keyword":"nitro","matched_content":"nitro"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.GuildID != 1 || ev.RuleID != 2 || ev.UserID != 3 || ev.ChannelID != 4 || ev.MessageID != 0 ||
		ev.Action.Metadata.DurationSeconds != 60 || deref(ev.MatchedKeyword) != "nitro" {
		t.Fatalf("decoded %+v", ev)
	}
	key, durable := ev.key()
	if durable || !strings.HasPrefix(key, "exec:2:3:c4:") {
		t.Errorf("key of a blocked message: %q durable %v", key, durable)
	}
	ev.MessageID = 5
	if key, durable := ev.key(); !durable || key != "exec:2:3:m5" {
		t.Errorf("key of a posted message: %q durable %v", key, durable)
	}
	if _, err := decodeExecution([]byte(`{"guild_id":"1","rule_id":"2"}`)); err == nil {
		t.Error("an execution without a user was accepted")
	}
	if _, err := decodeExecution([]byte(`{"guild_id":"x1"}`)); err == nil {
		t.Error("a malformed snowflake was accepted")
	}
}

// FuzzDecodeExecution: any payload decodes or is refused, never panics, and an accepted one
// has a key that fits the database's 200 characters.
func FuzzDecodeExecution(f *testing.F) {
	f.Add([]byte(`{"guild_id":"1","action":{"type":1,"metadata":{}},"rule_id":"2","user_id":"3","content":"x","matched_keyword":null}`))
	f.Add([]byte(`{"guild_id":1,"rule_id":2,"user_id":3,"message_id":"4"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := decodeExecution(body)
		if err != nil {
			return
		}
		if key, _ := ev.key(); len(key) == 0 || len(key) > 200 {
			t.Fatalf("key %q of %s", key, body)
		}
	})
}
