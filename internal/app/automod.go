package app

import (
	"time"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/automod/enforcer"
	"github.com/gavelbot/gavel/internal/store"
)

// Defaults for AutoMod in the App (enforcer's).
const (
	DefaultExecutionWindow = enforcer.DefaultExecutionWindow
	DefaultGavelRulesCheck = enforcer.DefaultGavelRulesCheck
)

// WithAutoModTiming changes how long execution events are gathered and how often stored
// gavel-enforced rules are checked for changes (tests shorten both).
func WithAutoModTiming(window, check time.Duration) Option {
	return func(o *options) { o.automodWindow, o.automodCheck = window, check }
}

// WithAutoModObserver makes the AutoMod enforcer tell f about each step it is done with (an
// execution event gathered, an execution's case made, a message evaluated): tests wait for
// it instead of sleeping.
func WithAutoModObserver(f func(enforcer.Handled)) Option {
	return func(o *options) { o.automodHandled = f }
}

// newEnforcer builds AutoMod's runtime over the App's services; a.cached and a.cat are set.
func (a *App) newEnforcer(o options) *enforcer.Enforcer {
	am := enforcer.New(enforcer.Config{Store: automod.NewStore(a.store, automod.WithStoreClock(a.clock.Now)), Port: a.port, Guilds: a.cached, Exec: a.exec,
		Settings: a.guilds, Cases: a.cases, Actions: a.cat, Work: flightWork{&a.flight}, Log: a.log, Timeout: a.commandTimeout,
		Window: o.automodWindow, Check: o.automodCheck, Clock: a.clock, Handled: o.automodHandled, Affinity: guildAffinity{a}})
	a.store.OnChange(store.TopicAutoMod, am.RulesChanged)
	return am
}

// AutoMod returns the service the /automod commands use: Discord's rules, validated before
// every change, each change reported in the guild's audit-log channel; its Test also
// evaluates the guild's gavel-enforced rules.
func (a *App) AutoMod() *automod.Service {
	return automod.NewService(a.port, automod.WithExecutor(a.exec), automod.WithReporter(a.automod.ReportAudit),
		automod.WithGavelRules(a.automod.Store()))
}
