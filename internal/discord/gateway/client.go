package gateway

import (
	"fmt"

	"github.com/disgoorg/disgo"
	"github.com/disgoorg/disgo/bot"
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
