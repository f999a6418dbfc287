package shards_test

import (
	"context"
	"testing"
	"time"

	"github.com/disgoorg/disgo/events"

	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// resumeProvider runs shard 0 of 1 from a saved session, as the next owner of a shard does.
type resumeProvider struct{ from shards.Session }

func (r resumeProvider) Run(ctx context.Context, count int, run shards.Runner) error {
	if err := run.Start(ctx, 0, r.from); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func (resumeProvider) Release(context.Context, map[int]shards.Session) {}

// TestSavedSessionResumesFromBeforeUnfinishedWork: an event whose work outlives its
// handler is held (Manager.Hold, as gavel's commands are). While it is, the shard's session
// (Sessions, and the one Stop keeps for the next owner) resumes from before it, although
// later events were received and handled: a second process that RESUMEs the kept session
// gets the held event replayed, with the finished event after it. Released, the session
// moves on to the last event handled.
func TestSavedSessionResumesFromBeforeUnfinishedWork(t *testing.T) {
	fake := discordtest.New(t)
	guilds, err := fake.SeedGuilds(discordtest.BulkGuilds{Count: 1, Members: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := guilds[0]
	var a *process
	held := make(chan int, 1)
	var release func()
	a, err = startProcess(t, fake, newClock(), setup{provider: shards.Static{}, count: 1, listen: func(e *events.MessageCreate) {
		if e.Message.Content == "in flight" && release == nil || e.Message.Content == "done soon" {
			release = a.m.Hold(e.ShardID(), e.SequenceNumber())
			held <- e.SequenceNumber()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := fake.WaitReady(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Held, then released: the session moves on to the last event handled.
	fake.SendMessage(g.Channel, g.Members[0], "done soon")
	first := <-held
	fake.SendMessage(g.Channel, g.Members[0], "after it")
	a.got.wait(t, "after it")
	if s := a.m.Sessions()[0]; s.Seq != first-1 {
		t.Errorf("session %+v while event %d is held; want it resumable from %d", s, first, first-1)
	}
	// sessionAfter sends a marker and returns p's session once the marker reached the
	// listener: the gateway hands events to the handler one at a time, in order, so by then
	// the handler of every event before it has returned (a message reaches the listener
	// before its handler returns, and counts as handled only after).
	sessionAfter := func(p *process, marker string) shards.Session {
		fake.SendMessage(g.Channel, g.Members[0], marker)
		p.got.wait(t, marker)
		return p.m.Sessions()[0]
	}
	release()
	if s := sessionAfter(a, "mark 1"); s.Seq <= first {
		t.Errorf("session %+v once event %d was released; want it past it", s, first)
	}
	release = nil

	fake.SendMessage(g.Channel, g.Members[0], "in flight")
	seq := <-held
	fake.SendMessage(g.Channel, g.Members[0], "finished")
	a.got.wait(t, "finished")
	if s := a.m.Sessions()[0]; s.Seq != seq-1 || !s.Resumable() {
		t.Errorf("session %+v while event %d is held; want it resumable from %d", s, seq, seq-1)
	}
	// Stopped with the event still held, the shard keeps a session from before it; a
	// second process resumes it and gets both messages again.
	kept := a.m.Stop(ctx, 0, true)
	if kept.Seq != seq-1 || !kept.Resumable() {
		t.Errorf("kept session %+v; want it resumable from %d", kept, seq-1)
	}
	b, err := startProcess(t, fake, newClock(), setup{provider: resumeProvider{from: kept}, count: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.got.wait(t, "in flight", "finished")
	if st := fake.GatewayStats(); st.Resumes != 1 {
		t.Errorf("%d RESUMEs; want 1", st.Resumes)
	}
	// a's hold ends harmlessly after its shard stopped; b holds nothing, so its session is
	// at the last event it handled.
	release()
	fake.SendMessage(g.Channel, g.Members[0], "last")
	b.got.wait(t, "last")
	if s := sessionAfter(b, "mark 2"); s.Seq <= seq+1 {
		t.Errorf("b's session %+v; want it past the replayed events (%d, %d)", s, seq, seq+1)
	}
}
