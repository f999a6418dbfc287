package app

import (
	"context"

	"github.com/gavelbot/gavel/internal/moderation"
)

// massRunner is the tools' way to the mass actions (tools.MassRunner): the coordinator's
// batch path, run as work in flight, so that a shutdown waits for the chunk under way and
// the next start continues the rest (moderation.ResumeMass).
type massRunner struct{ a *App }

func (m massRunner) coordinator() (*moderation.Coordinator, bool) {
	m.a.mu.Lock()
	defer m.a.mu.Unlock()
	return m.a.coordinator, m.a.coordinator != nil && !m.a.closing
}

// PlanMass implements tools.MassRunner.
func (m massRunner) PlanMass(ctx context.Context, req moderation.MassRequest) (moderation.MassPlan, error) {
	co, ok := m.coordinator()
	if !ok {
		return moderation.MassPlan{}, moderation.Refuse("gavel is still connecting to Discord (or shutting down); try again in a moment.")
	}
	return co.PlanMass(ctx, req)
}

// StartMass implements tools.MassRunner.
func (m massRunner) StartMass(req moderation.MassRequest, done func(moderation.MassResult)) bool {
	a := m.a
	a.mu.Lock()
	co := a.coordinator
	if co == nil || a.closing {
		a.mu.Unlock()
		return false
	}
	a.inflight.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.inflight.Done()
		r := co.ExecuteMass(a.work, req)
		if r.Err != nil {
			a.log.Warn("mass action", "guild", req.GuildID, "kind", req.Kind, "err", r.Err)
		}
		done(r)
	}()
	return true
}
