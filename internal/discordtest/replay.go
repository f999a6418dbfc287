package discordtest

import (
	"encoding/json"
	"fmt"
)

// A RESUME replays the events a session missed, from the last sequence number the client
// sent; a client that saved its sequence a little behind what it had handled (a process
// killed between two saves) is sent events it had already handled. These two repeat one
// event, with its id unchanged, as such a replay does.

// RedeliverMessage dispatches MESSAGE_CREATE again for a message already posted, with the
// same id and content.
func (s *Server) RedeliverMessage(id ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, msgs := range s.st.messages {
		for _, m := range msgs {
			if m.ID == id {
				s.dispatchMessage("MESSAGE_CREATE", m)
				return nil
			}
		}
	}
	return fmt.Errorf("discordtest: no message %s to redeliver", id)
}

// RedeliverInteraction dispatches an interaction's INTERACTION_CREATE again, the same
// payload (id and token) as the first time.
func (s *Server) RedeliverInteraction(i *Interaction) {
	s.dispatch(i.GuildID, "INTERACTION_CREATE", 0, json.RawMessage(i.Payload))
}
