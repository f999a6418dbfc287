// Package gateway is gavel's client for Discord's gateway: one shard's WebSocket
// connection, behind disgo's gateway.Gateway interface. disgo still decodes every payload
// (gateway.Message and the event types), keeps its caches and calls its listeners; this
// package owns the connection.
//
// # Why gavel owns its gateway
//
// disgo v0.19.6's gateway writes heartbeatCancel, lastHeartbeatReceived and the last
// sequence from its reader and heartbeat goroutines without a lock, so every test that opens
// and closes a connection fails under -race, and the reconnect paths cannot be trusted. The
// gateway is the bot's lifeline, so gavel keeps it small, race-free and tested against a
// fake that exercises every reconnect path (docs/gateway.md lists them).
//
// # Design
//
// A Gateway is created before the disgo client (bot.WithGateway needs it) and bound to the
// client's event manager with SetEventHandler; Open refuses to connect until it is bound,
// so no event can arrive with nowhere to go. NewClient does all three steps.
//
// Between Open and Close the gateway runs three kinds of goroutine:
//
//   - the supervisor dials, waits for HELLO, sends IDENTIFY or RESUME, heartbeats (the
//     first after interval × jitter, then every interval), drops a connection whose
//     heartbeat went unacknowledged, and decides after each connection whether to resume,
//     start a new session or stop;
//   - one reader per connection decodes payloads (plain JSON or one zlib-stream) and passes
//     dispatches to the dispatcher and everything else to the supervisor;
//   - the dispatcher calls the event handler in order, across reconnects, so a slow
//     listener delays neither heartbeats nor ACKs. When its buffer is full the reader waits:
//     back-pressure, not loss. The sequence used to resume advances only for events that
//     were queued, so a resume never skips one.
//
// All state the three share sits behind one mutex; Send may be called from any goroutine
// and queues to stay under Discord's 120 events per minute. Close waits for every
// goroutine to return.
package gateway
