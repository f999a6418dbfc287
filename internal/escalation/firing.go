package escalation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Firing is one threshold fired for a member.
type Firing struct {
	ID      int64
	GuildID discord.GuildID
	UserID  discord.UserID
	Policy  string
	// Threshold is the threshold as it was when it fired.
	Threshold Threshold
	// Points is the member's sum when it fired; Contributing names the cases ("#12, #15").
	Points       int
	Contributing string
	TriggerCase  int64
	// EscalationCase is the id of the case the action made (0 while none).
	EscalationCase int64
	State          string
	Note           string
	DecidedBy      discord.UserID
	DecidedAt      time.Time
	// ApprovalChannel and ApprovalMessage are where the approval request was posted.
	ApprovalChannel discord.ChannelID
	ApprovalMessage discord.MessageID
	FiredAt         time.Time
	// RearmedAt is when the threshold re-armed; zero while the firing is open.
	RearmedAt time.Time
	// UpdatedAt is the firing's last change (a running firing's claim).
	UpdatedAt time.Time
}

// Open says the threshold has not re-armed.
func (f Firing) Open() bool { return f.RearmedAt.IsZero() }

func firingFromRow(r query.EscalationFiring) Firing {
	approval := r.NeedsApproval
	f := Firing{ID: r.ID, GuildID: discord.GuildID(r.GuildID), UserID: discord.UserID(r.UserID), Policy: r.Policy,
		Threshold: Threshold{At: int(r.AtPoints), Action: Action(r.Action), Duration: time.Duration(r.DurationMs) * time.Millisecond,
			ResetBelow: int(r.ResetBelow), Approval: &approval},
		Points: int(r.Points), Contributing: r.Contributing, TriggerCase: r.TriggerCaseID, EscalationCase: r.EscalationCaseID.Int64,
		State: r.State, Note: r.Note.String, DecidedBy: discord.UserID(r.DecidedBy.Int64),
		ApprovalChannel: discord.ChannelID(r.ApprovalMessageChannelID.Int64), ApprovalMessage: discord.MessageID(r.ApprovalMessageID.Int64),
		FiredAt: time.UnixMilli(r.FiredAt).UTC(), UpdatedAt: time.UnixMilli(r.UpdatedAt).UTC()}
	if r.DecidedAt.Valid {
		f.DecidedAt = time.UnixMilli(r.DecidedAt.Int64).UTC()
	}
	if r.RearmedAt.Valid {
		f.RearmedAt = time.UnixMilli(r.RearmedAt.Int64).UTC()
	}
	return f
}

// Firing returns firing id.
func (s *Service) Firing(ctx context.Context, id int64) (Firing, error) {
	r, err := s.read.GetFiring(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Firing{}, fmt.Errorf("escalation %d: %w", id, ErrNoFiring)
	}
	if err != nil {
		return Firing{}, fmt.Errorf("escalation %d: %w", id, err)
	}
	return firingFromRow(r), nil
}

// ErrNoFiring is returned for a firing that does not exist.
var ErrNoFiring = errors.New("no such escalation")

// ErrMoved is returned by Move when the firing was no longer in the state expected.
var ErrMoved = errors.New("the escalation was already handled")

// Transition is one change of a firing's state.
type Transition struct {
	From, To string
	Note     string
	// DecidedBy records the moderator who approved or denied (0: none).
	DecidedBy discord.UserID
	// EscalationCase is the case the action made (0: none).
	EscalationCase int64
}

// Move changes firing id's state from t.From to t.To; ErrMoved when it was not in t.From
// (another process or moderator got there first).
func (s *Service) Move(ctx context.Context, id int64, t Transition) (Firing, error) {
	nowMS := s.now().UnixMilli()
	p := query.MoveFiringParams{ID: id, FromState: t.From, ToState: t.To, Now: nowMS}
	if t.Note != "" {
		p.Note = sql.NullString{String: t.Note, Valid: true}
	}
	if t.DecidedBy != 0 {
		p.DecidedBy = sql.NullInt64{Int64: int64(t.DecidedBy), Valid: true}
		p.DecidedAt = sql.NullInt64{Int64: nowMS, Valid: true}
	}
	if t.EscalationCase != 0 {
		p.EscalationCaseID = sql.NullInt64{Int64: t.EscalationCase, Valid: true}
	}
	// Fenced: a move made for a guild whose shard this process lost is refused.
	var r query.EscalationFiring
	err := s.st.WriteFenced(ctx, func(ctx context.Context, q query.Queries) (err error) {
		r, err = q.MoveFiring(ctx, p)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Firing{}, fmt.Errorf("escalation %d is not %s: %w", id, t.From, ErrMoved)
	}
	if err != nil {
		return Firing{}, fmt.Errorf("escalation %d: %w", id, err)
	}
	return firingFromRow(r), nil
}

// Reclaim takes over firing f, left running: it succeeds for one caller only, and only while
// the firing is still running and unchanged since f was read (ErrMoved otherwise).
func (s *Service) Reclaim(ctx context.Context, f Firing) (Firing, error) {
	var r query.EscalationFiring
	err := s.st.WriteFenced(ctx, func(ctx context.Context, q query.Queries) (err error) {
		r, err = q.ReclaimFiring(ctx, query.ReclaimFiringParams{ID: f.ID, Now: s.now().UnixMilli(), UpdatedAt: f.UpdatedAt.UnixMilli()})
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Firing{}, fmt.Errorf("escalation %d was taken over or finished meanwhile: %w", f.ID, ErrMoved)
	}
	if err != nil {
		return Firing{}, fmt.Errorf("escalation %d: %w", f.ID, err)
	}
	return firingFromRow(r), nil
}

// SetApprovalMessage records where firing id's approval request was posted.
func (s *Service) SetApprovalMessage(ctx context.Context, id int64, channelID discord.ChannelID, messageID discord.MessageID) error {
	if err := s.st.WriteFenced(ctx, func(ctx context.Context, q query.Queries) error {
		return q.SetFiringApprovalMessage(ctx, query.SetFiringApprovalMessageParams{ID: id,
			ApprovalMessageChannelID: sql.NullInt64{Int64: int64(channelID), Valid: true}, ApprovalMessageID: sql.NullInt64{Int64: int64(messageID), Valid: true},
			UpdatedAt: s.now().UnixMilli()})
	}); err != nil {
		return fmt.Errorf("escalation %d: %w", id, err)
	}
	return nil
}

// FiringsOfMember returns a member's newest firings, at most limit.
func (s *Service) FiringsOfMember(ctx context.Context, guildID discord.GuildID, userID discord.UserID, limit int) ([]Firing, error) {
	rows, err := s.read.FiringsOfMember(ctx, query.FiringsOfMemberParams{GuildID: int64(guildID), UserID: int64(userID), Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("escalations of user %d: %w", userID, err)
	}
	return firings(rows), nil
}

// FiringsOfCase returns the firings a case triggered or carried out.
func (s *Service) FiringsOfCase(ctx context.Context, caseID int64) ([]Firing, error) {
	rows, err := s.read.FiringsOfCase(ctx, caseID)
	if err != nil {
		return nil, fmt.Errorf("escalations of case id %d: %w", caseID, err)
	}
	return firings(rows), nil
}

// InState returns up to limit firings in state that fired at or before before, oldest first.
func (s *Service) InState(ctx context.Context, state string, before time.Time, limit int) ([]Firing, error) {
	rows, err := s.read.FiringsInState(ctx, query.FiringsInStateParams{State: state, FiredAt: before.UnixMilli(), Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("escalations %s: %w", state, err)
	}
	return firings(rows), nil
}

func firings(rows []query.EscalationFiring) []Firing {
	out := make([]Firing, len(rows))
	for i, r := range rows {
		out[i] = firingFromRow(r)
	}
	return out
}
