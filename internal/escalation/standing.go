package escalation

import (
	"context"
	"fmt"

	"github.com/gavelbot/gavel/internal/cases"
)

// Standing says where case c leaves its member, for the moderator's reply (who names the
// member) and the member's DM (who is "you"): "This brings @x to 7/10 points — next: tempban
// for 7 days (needs approval)". It is empty for a case that carries no points, an
// escalation's own case, and a guild with no enabled policy.
//
// The settings are those the case's evaluation read in the transaction that made it count,
// when this service evaluated it and no evaluation in the guild has committed since (the
// usual command: nothing to read); otherwise they are read.
func (s *Service) Standing(ctx context.Context, c cases.Case, who string) string {
	if c.Metadata[MetaFiring] != "" {
		return ""
	}
	cfg, ok := s.evaluatedConfig(c.GuildID, c.ID)
	if !ok {
		var err error
		if cfg, _, err = s.Config(ctx, c.GuildID); err != nil {
			return ""
		}
	}
	if cfg.MaxAt() == 0 {
		return ""
	}
	if _, _, ok, err := s.CasePoints(ctx, c.ID); err != nil || !ok {
		return ""
	}
	total, _, err := s.Points(ctx, c.GuildID, c.UserID)
	if err != nil {
		s.log.Warn("escalation standing", "guild", c.GuildID, "case", c.Number, "err", err)
		return ""
	}
	text := fmt.Sprintf("This brings %s to %d/%d points", who, total, cfg.MaxAt())
	// What this case set off, if it did: the action that now follows.
	if fs, err := s.FiringsOfCase(ctx, c.ID); err == nil {
		for _, f := range fs {
			if f.TriggerCase == c.ID && f.State != StateSkipped {
				next := f.Threshold.Describe()
				if f.Threshold.NeedsApproval() {
					next += " (needs approval)"
				}
				return text + " — next: " + next + "."
			}
		}
	}
	var next *Threshold
	for _, p := range cfg.Enabled() {
		for _, t := range p.Thresholds {
			if t.At > total && (next == nil || t.At < next.At || t.At == next.At && harsher(t, *next)) {
				next = &t
			}
		}
	}
	if next == nil {
		return text + " — the highest threshold is reached."
	}
	desc := next.Describe()
	if next.NeedsApproval() {
		desc += ", needs approval"
	}
	return fmt.Sprintf("%s — next: %s at %d points.", text, desc, next.At)
}
