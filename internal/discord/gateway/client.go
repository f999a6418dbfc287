package gateway

import (
	"fmt"

	"github.com/disgoorg/disgo"
	"github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/bot/handlers"
	"github.com/disgoorg/disgo/events"
	dgw "github.com/disgoorg/disgo/gateway"
)

// NewClient builds a disgo client whose gateway is a new Gateway, already bound to the
// client's event manager, so disgo's caches and listeners see every event. Open it with
// client.OpenGateway(ctx) and close it with client.Close(ctx).
//
// Doing it by hand takes three steps, because disgo wants the gateway before the client
// exists while the gateway's handler belongs to the client:
//
//	g, _ := gateway.New(token, opts...)
//	client, _ := disgo.New(token, bot.WithGateway(g), …)
//	g.SetEventHandler(client.EventManager.HandleGatewayEvent)
func NewClient(token string, gatewayOpts []Option, clientOpts ...bot.ConfigOpt) (*bot.Client, *Gateway, error) {
	g, err := New(token, gatewayOpts...)
	if err != nil {
		return nil, nil, err
	}
	// Last, so no client option can replace the gateway.
	client, err := disgo.New(token, append(clientOpts, bot.WithGateway(g))...)
	if err != nil {
		return nil, nil, fmt.Errorf("new disgo client: %w", err)
	}
	g.SetEventHandler(client.EventManager.HandleGatewayEvent)
	return client, g, nil
}

// MessageCreateEvent is a MESSAGE_CREATE that the gateway decoded itself
// (WithMessageDecoding), as disgo's listeners get it (bot.WithEventListenerFunc).
type MessageCreateEvent struct {
	*events.GenericEvent
	*MessageCreate
}

// Handlers are disgo's gateway event handlers, with MESSAGE_CREATE's handling both kinds:
// gavel's *MessageCreate is dispatched as *MessageCreateEvent, disgo's own event goes to
// disgo's handler. A client whose gateways use WithMessageDecoding needs them
// (bot.WithEventManagerConfigOpts(bot.WithGatewayHandlers(gateway.Handlers()))): disgo's
// handler drops a type it does not know without a word.
func Handlers() map[dgw.EventType]bot.GatewayEventHandler {
	hs := handlers.GetGatewayHandlers()
	hs[dgw.EventTypeMessageCreate] = messageCreateHandler{disgo: hs[dgw.EventTypeMessageCreate]}
	return hs
}

type messageCreateHandler struct{ disgo bot.GatewayEventHandler }

func (h messageCreateHandler) EventType() dgw.EventType { return dgw.EventTypeMessageCreate }

func (h messageCreateHandler) HandleGatewayEvent(client *bot.Client, seq int, shardID int, event dgw.EventData) {
	m, ok := event.(*MessageCreate)
	if !ok {
		h.disgo.HandleGatewayEvent(client, seq, shardID, event)
		return
	}
	// As disgo's handler: an ephemeral message lacks guild_id and member.
	if m.Ephemeral() {
		return
	}
	client.EventManager.DispatchEvent(&MessageCreateEvent{GenericEvent: events.NewGenericEvent(client, seq, shardID), MessageCreate: m})
}
