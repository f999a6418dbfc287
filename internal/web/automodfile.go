package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/discord"
)

// maxRulesFileBytes bounds a rules file pasted on the AutoMod page: Discord's largest
// guild (six keyword rules of 1000 keywords of 60 characters each, and their regexes and
// allow lists) fits with room for gavel-enforced rules.
const maxRulesFileBytes = 512 << 10

// maxRulesFormBytes bounds the body of a plan or apply: the file, form-encoded (at most
// three bytes a byte), and the token and hashes.
const maxRulesFormBytes = 3*maxRulesFileBytes + 4096

// planCommand and the others are the automod command's rights a rules file needs: planning
// and applying edit rules, and a plan that creates or deletes rules needs those rights too.
const (
	planCommand   = "automod edit"
	createCommand = "automod create"
	deleteCommand = "automod delete"
)

// planView is a plan as the AutoMod page shows it, with what Apply must carry back.
type planView struct {
	Changes []automod.RuleChange
	Summary string
	Empty   bool
	// FileHash is the planned file's hash, StateHash that of the rules the plan was made
	// against: Apply refuses when either differs.
	FileHash, StateHash string
}

// guildRules reads the guild's rules as the plan compares them: Discord's and gavel's.
func (s *Server) guildRules(ctx context.Context, id discord.GuildID) ([]automod.Rule, []automod.GavelRule, error) {
	rules, err := s.cfg.AutoMod.List(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the AutoMod rules of %d: %w", id, err)
	}
	var gavelRules []automod.GavelRule
	if s.cfg.GavelRules != nil {
		if gavelRules, err = s.cfg.GavelRules(ctx, id); err != nil {
			return nil, nil, fmt.Errorf("reading the gavel-enforced rules of %d: %w", id, err)
		}
	}
	return rules, gavelRules, nil
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// stateHash names the rules a plan was made against; any change on Discord (or to the stored
// gavel-enforced rules) changes it.
func stateHash(rules []automod.Rule, gavelRules []automod.GavelRule) (string, error) {
	b, err := json.Marshal(struct {
		Discord []automod.Rule
		Gavel   []automod.GavelRule
	}{rules, gavelRules})
	if err != nil {
		return "", fmt.Errorf("hashing the guild's rules: %w", err)
	}
	return hashOf(b), nil
}

// rulesFileForm reads the file a plan or apply was sent with, and the page that answers it,
// after checking the permission to plan.
func (s *Server) rulesFileForm(r *http.Request, sess *session) (access, string, autoModPage, error) {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return access{}, "", autoModPage{}, err
	}
	if s.cfg.AutoMod == nil || s.cfg.GavelStore == nil {
		return access{}, "", autoModPage{}, &pageError{Status: http.StatusNotFound, Title: "Not available", Message: "This gavel process does not manage AutoMod rules files."}
	}
	d, err := a.may(planCommand)
	if err != nil {
		return access{}, "", autoModPage{}, err
	}
	if !d.Allowed {
		return access{}, "", autoModPage{}, &pageError{Status: http.StatusForbidden, Title: "Not allowed",
			Message: fmt.Sprintf("You may not change the AutoMod rules of %s: %s Nothing was changed.", a.Guild.Name, strings.ReplaceAll(d.Reason, "`", ""))}
	}
	file := r.PostForm.Get("file")
	if len(file) > maxRulesFileBytes {
		return access{}, "", autoModPage{}, &pageError{Status: http.StatusRequestEntityTooLarge, Title: "Rules file too large",
			Message: fmt.Sprintf("The rules file is %d bytes; the dashboard takes at most %d. Nothing was changed.", len(file), maxRulesFileBytes)}
	}
	return a, file, autoModPage{Guild: a.Guild, File: file, CanPlan: true, CSRF: sess.CSRF}, nil
}

// makePlan parses the file and compares it with the guild's rules, as gavel automod plan
// does; a bad file is shown on the page (400) with the problems as the CLI words them.
func (s *Server) makePlan(ctx context.Context, a access, file string, page *autoModPage) (automod.RuleFile, automod.Plan, bool, error) {
	rules, gavelRules, err := s.guildRules(ctx, a.Guild.ID)
	if err != nil {
		return automod.RuleFile{}, automod.Plan{}, false, err
	}
	page.setRules(rules)
	state, err := stateHash(rules, gavelRules)
	if err != nil {
		return automod.RuleFile{}, automod.Plan{}, false, err
	}
	f, err := automod.ParseFile([]byte(file))
	var plan automod.Plan
	if err == nil {
		plan, err = automod.MakePlan(f, rules, gavelRules)
	}
	if errors.Is(err, automod.ErrFile) || errors.Is(err, automod.ErrInvalid) {
		page.FileError = err.Error()
		return automod.RuleFile{}, automod.Plan{}, false, nil
	}
	if err != nil {
		return automod.RuleFile{}, automod.Plan{}, false, fmt.Errorf("planning a rules file for %d: %w", a.Guild.ID, err)
	}
	page.Plan = &planView{Summary: plan.String(), Empty: plan.Empty(), FileHash: hashOf([]byte(file)), StateHash: state}
	for _, c := range plan.Changes {
		if c.Kind != automod.Unchanged {
			page.Plan.Changes = append(page.Plan.Changes, c)
		}
	}
	return f, plan, true, nil
}

// handlePlan shows what applying the posted rules file would change, and an Apply button
// carrying that exact plan's hashes.
func (s *Server) handlePlan(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, file, page, err := s.rulesFileForm(r, sess)
	if err != nil {
		return err
	}
	_, _, ok, err := s.makePlan(r.Context(), a, file, &page)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusBadRequest
	}
	s.render(w, status, "automod", sess, "AutoMod · "+a.Guild.Name, page)
	return nil
}

// handleApply applies the plan just shown: the file must be the one planned and the guild's
// rules must be those it was planned against, otherwise it refuses, changes nothing and
// shows the plan as it is now.
func (s *Server) handleApply(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, file, page, err := s.rulesFileForm(r, sess)
	if err != nil {
		return err
	}
	ctx := r.Context()
	f, plan, ok, err := s.makePlan(ctx, a, file, &page)
	if err != nil {
		return err
	}
	refuse := func(msg string) error {
		page.Refusal = msg
		s.render(w, http.StatusConflict, "automod", sess, "AutoMod · "+a.Guild.Name, page)
		return nil
	}
	if !ok {
		s.render(w, http.StatusBadRequest, "automod", sess, "AutoMod · "+a.Guild.Name, page)
		return nil
	}
	if r.PostForm.Get("filehash") != page.Plan.FileHash {
		return refuse("This is not the file that was planned (it was edited after Plan, or Apply came without a plan). Nothing was applied; the plan of this file is below: review it and apply again.")
	}
	if r.PostForm.Get("statehash") != page.Plan.StateHash {
		return refuse("The rules changed since this plan was made (on Discord or in gavel), so it is out of date. Nothing was applied; the plan against the rules as they are now is below: review it and apply again.")
	}
	if plan.Empty() {
		page.Notice = "Nothing to apply: the server already matches the file."
		s.render(w, http.StatusOK, "automod", sess, "AutoMod · "+a.Guild.Name, page)
		return nil
	}
	for _, c := range plan.Changes {
		var cmd string
		switch {
		case c.Gavel:
			continue
		case c.Kind == automod.Create:
			cmd = createCommand
		case c.Kind == automod.Delete:
			cmd = deleteCommand
		default:
			continue
		}
		d, err := a.may(cmd)
		if err != nil {
			return err
		}
		if !d.Allowed {
			return &pageError{Status: http.StatusForbidden, Title: "Not allowed",
				Message: fmt.Sprintf("This plan %ss rule %q, which you may not do in %s: %s Nothing was changed.", c.Kind, c.Name, a.Guild.Name, strings.ReplaceAll(d.Reason, "`", ""))}
		}
	}
	// Checked before Discord is changed: the gavel-enforced rules are stored last, and a
	// database that refuses them would leave the guild half applied.
	if err := s.cfg.Store.CheckWritable(ctx); err != nil {
		return &pageError{Status: http.StatusServiceUnavailable, Title: "Not applied", Message: fmt.Sprintf("gavel's database takes no writes now (%v); nothing was changed.", err)}
	}
	actor := automod.Actor{ID: sess.UserID, Name: sess.Username + " (dashboard)"}
	done, err := s.cfg.AutoMod.ApplyPlan(ctx, a.Guild.ID, actor, plan, s.cfg.GavelStore, f.Gavel)
	if err != nil {
		return &pageError{Status: http.StatusBadGateway, Title: "Applied in part", Message: fmt.Sprintf("Applying the rules file stopped: %v", err)}
	}
	s.log.Info("dashboard: rules file applied", "guild", a.Guild.ID, "user", sess.UserID, "changes", len(done.Done))
	http.Redirect(w, r, fmt.Sprintf("/g/%d/automod?applied=%d", a.Guild.ID, len(done.Done)), http.StatusSeeOther)
	return nil
}
