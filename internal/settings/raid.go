package settings

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// LockdownMode is what raid mode locks down while it lasts.
type LockdownMode string

// The lockdown responses: none (the default, and not part of the preset: a server lockdown
// silences every member, not only the raiders, so a server asks for it), or a lockdown of
// the whole server, as `lockdown server`, for as long as raid mode lasts.
const (
	LockdownOff    LockdownMode = "off"
	LockdownServer LockdownMode = "server"
)

// JoinerAction is what raid mode does to a member who joins while it lasts.
type JoinerAction string

// The joiner policies.
const (
	JoinerNone    JoinerAction = "none"
	JoinerTimeout JoinerAction = "timeout"
	JoinerKick    JoinerAction = "kick"
	JoinerBan     JoinerAction = "ban"
)

// Raid is a guild's raid defence settings (docs/raids.md). Off by default; when a guild turns
// it on, the preset responses (pause invites, raise verification to High, time out new
// joiners for 24 hours) are on unless it changed them.
type Raid struct {
	Enabled bool
	// Threshold joins within Window is a raid (half of it, rounded up, when most joiners are
	// suspicious).
	Threshold int
	Window    time.Duration
	// Quiet is how long joins must stay below the threshold before raid mode ends by itself.
	Quiet time.Duration
	// DiscordSignal makes Discord's own raid report (raid_detected_at, the raid-report
	// system message) start raid mode too.
	DiscordSignal bool
	PauseInvites  bool
	PauseDMs      bool
	// RaiseVerification raises the verification level to High while the raid lasts.
	RaiseVerification bool
	Joiner            JoinerAction
	// JoinerTimeout is how long a joiner is timed out for when Joiner is JoinerTimeout.
	JoinerTimeout time.Duration
	// Lockdown is the lockdown raid mode runs while it lasts (LockdownOff: none).
	Lockdown LockdownMode
}

// Raid settings' defaults and bounds (the migration's CHECKs repeat the bounds).
const (
	DefaultRaidThreshold = 10
	MinRaidThreshold     = 3
	MaxRaidThreshold     = 100

	DefaultRaidWindow = 10 * time.Second
	MinRaidWindow     = 5 * time.Second
	MaxRaidWindow     = 300 * time.Second

	DefaultRaidQuiet = 10 * time.Minute
	MinRaidQuiet     = 2 * time.Minute
	MaxRaidQuiet     = time.Hour

	DefaultJoinerTimeout = 24 * time.Hour
	MinJoinerTimeout     = time.Minute
	// MaxJoinerTimeout is Discord's longest timeout.
	MaxJoinerTimeout = 28 * 24 * time.Hour
)

// DefaultRaid returns the raid settings of a guild that never changed them.
func DefaultRaid() Raid {
	return Raid{Threshold: DefaultRaidThreshold, Window: DefaultRaidWindow, Quiet: DefaultRaidQuiet,
		PauseInvites: true, RaiseVerification: true, Joiner: JoinerTimeout, JoinerTimeout: DefaultJoinerTimeout,
		Lockdown: LockdownOff}
}

// RaidKey is one raid setting, by the name raid config and the history use.
type RaidKey string

// The raid settings' keys; the history records them as "raid.<key>".
const (
	RaidEnabled           RaidKey = "enabled"
	RaidThreshold         RaidKey = "threshold"
	RaidWindow            RaidKey = "window"
	RaidQuiet             RaidKey = "quiet"
	RaidDiscordSignal     RaidKey = "discord_signal"
	RaidPauseInvites      RaidKey = "pause_invites"
	RaidPauseDMs          RaidKey = "pause_dms"
	RaidRaiseVerification RaidKey = "verification"
	RaidJoiner            RaidKey = "joiners"
	RaidJoinerTimeout     RaidKey = "joiner_timeout"
	RaidLockdown          RaidKey = "lockdown"
)

// RaidKeys lists every raid setting in the order raid config shows them.
func RaidKeys() []RaidKey {
	return []RaidKey{RaidEnabled, RaidThreshold, RaidWindow, RaidQuiet, RaidDiscordSignal, RaidPauseInvites, RaidPauseDMs,
		RaidRaiseVerification, RaidJoiner, RaidJoinerTimeout, RaidLockdown}
}

// RaidAccepted says what each setting accepts, its default and bounds: for messages and docs.
func RaidAccepted(k RaidKey) string {
	switch k {
	case RaidEnabled:
		return "on or off (default off)"
	case RaidThreshold:
		return fmt.Sprintf("a whole number of joins from %d to %d (default %d)", MinRaidThreshold, MaxRaidThreshold, DefaultRaidThreshold)
	case RaidWindow:
		return fmt.Sprintf("a duration from %s to %s, such as 10s or 2m (default %s)", short(MinRaidWindow), short(MaxRaidWindow), short(DefaultRaidWindow))
	case RaidQuiet:
		return fmt.Sprintf("a duration from %s to %s, such as 10m (default %s)", short(MinRaidQuiet), short(MaxRaidQuiet), short(DefaultRaidQuiet))
	case RaidDiscordSignal, RaidPauseDMs:
		return "on or off (default off)"
	case RaidPauseInvites, RaidRaiseVerification:
		return "on or off (default on)"
	case RaidJoiner:
		return "timeout, kick, ban or none (default timeout)"
	case RaidJoinerTimeout:
		return fmt.Sprintf("a duration from %s to %s, such as 24h (default %s)", short(MinJoinerTimeout), short(MaxJoinerTimeout), short(DefaultJoinerTimeout))
	case RaidLockdown:
		return "server (lock the server down while raid mode lasts) or off (default off)"
	}
	return ""
}

func raidKeyList() string {
	ks := make([]string, 0, len(RaidKeys()))
	for _, k := range RaidKeys() {
		ks = append(ks, string(k))
	}
	return strings.Join(ks, ", ")
}

// ParseRaidKey accepts a raid setting's name in any letter case, "-" for "_".
func ParseRaidKey(s string) (RaidKey, error) {
	k := RaidKey(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	for _, known := range RaidKeys() {
		if k == known {
			return k, nil
		}
	}
	return "", input.Invalid("setting", fmt.Sprintf("%q is not a raid setting; accepted: %s", clipText(s), raidKeyList()))
}

// Value shows a setting's current value as raid config reads it back.
func (r Raid) Value(k RaidKey) string {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	switch k {
	case RaidEnabled:
		return onOff(r.Enabled)
	case RaidThreshold:
		return strconv.Itoa(r.Threshold)
	case RaidWindow:
		return short(r.Window)
	case RaidQuiet:
		return short(r.Quiet)
	case RaidDiscordSignal:
		return onOff(r.DiscordSignal)
	case RaidPauseInvites:
		return onOff(r.PauseInvites)
	case RaidPauseDMs:
		return onOff(r.PauseDMs)
	case RaidRaiseVerification:
		return onOff(r.RaiseVerification)
	case RaidJoiner:
		return string(r.Joiner)
	case RaidJoinerTimeout:
		return short(r.JoinerTimeout)
	case RaidLockdown:
		if r.Lockdown == "" {
			return string(LockdownOff)
		}
		return string(r.Lockdown)
	}
	return ""
}

// Apply sets one setting from what a moderator typed, checked against its bounds; the
// error says what is accepted, and r is unchanged.
func (r *Raid) Apply(k RaidKey, value string) error {
	v := strings.ToLower(strings.TrimSpace(value))
	bad := func(why string) error {
		return input.Invalid(string(k), fmt.Sprintf("%q %s; accepted: %s", clipText(value), why, RaidAccepted(k)))
	}
	onOff := func(dst *bool) error {
		switch v {
		case "on", "yes", "true", "enable", "enabled":
			*dst = true
		case "off", "no", "false", "disable", "disabled":
			*dst = false
		default:
			return bad("is not on or off")
		}
		return nil
	}
	span := func(dst *time.Duration, lo, hi time.Duration) error {
		d, err := duration.Parse(v)
		if err != nil {
			return bad("is not a duration")
		}
		if d < lo || d > hi {
			return bad("is out of range")
		}
		*dst = d
		return nil
	}
	switch k {
	case RaidEnabled:
		return onOff(&r.Enabled)
	case RaidThreshold:
		n, err := strconv.Atoi(v)
		if err != nil {
			return bad("is not a whole number")
		}
		if n < MinRaidThreshold || n > MaxRaidThreshold {
			return bad("is out of range")
		}
		r.Threshold = n
		return nil
	case RaidWindow:
		return span(&r.Window, MinRaidWindow, MaxRaidWindow)
	case RaidQuiet:
		return span(&r.Quiet, MinRaidQuiet, MaxRaidQuiet)
	case RaidDiscordSignal:
		return onOff(&r.DiscordSignal)
	case RaidPauseInvites:
		return onOff(&r.PauseInvites)
	case RaidPauseDMs:
		return onOff(&r.PauseDMs)
	case RaidRaiseVerification:
		return onOff(&r.RaiseVerification)
	case RaidJoiner:
		switch a := JoinerAction(v); a {
		case JoinerNone, JoinerTimeout, JoinerKick, JoinerBan:
			r.Joiner = a
			return nil
		}
		return bad("is not a joiner policy")
	case RaidJoinerTimeout:
		return span(&r.JoinerTimeout, MinJoinerTimeout, MaxJoinerTimeout)
	case RaidLockdown:
		switch m := LockdownMode(v); m {
		case LockdownOff, LockdownServer:
			r.Lockdown = m
			return nil
		}
		return bad("is not a lockdown response")
	}
	return input.Invalid("setting", fmt.Sprintf("%q is not a raid setting; accepted: %s", string(k), raidKeyList()))
}

// GetRaid returns a guild's raid settings: DefaultRaid when it never changed them.
func (s *Service) GetRaid(ctx context.Context, guildID discord.GuildID) (Raid, error) {
	if err := checkID("guild", guildID); err != nil {
		return Raid{}, err
	}
	row, err := s.read.GetRaidSettings(ctx, int64(guildID))
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultRaid(), nil
	}
	if err != nil {
		return Raid{}, fmt.Errorf("raid settings of guild %d: %w", guildID, err)
	}
	return raidFromRow(row), nil
}

// RaidGuilds lists the guilds that have raid defence on.
func (s *Service) RaidGuilds(ctx context.Context) ([]discord.GuildID, error) {
	ids, err := s.read.EnabledRaidGuilds(ctx)
	if err != nil {
		return nil, fmt.Errorf("guilds with raid defence: %w", err)
	}
	return discord.IDs[discord.GuildID](ids), nil
}

// SetRaid changes one raid setting, as actor, under the guild's configuration lock, and
// records it in the guild's settings history (key "raid.<setting>"). Bad input changes
// nothing and says what is accepted; a value that is already set is input.ErrUnchanged.
func (s *Service) SetRaid(ctx context.Context, guildID discord.GuildID, actor discord.UserID, k RaidKey, value string) (Raid, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor)); err != nil {
		return Raid{}, err
	}
	// Checked before the transaction, so bad input touches nothing.
	probe := DefaultRaid()
	if err := probe.Apply(k, value); err != nil {
		return Raid{}, err
	}
	var out Raid
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		q := tx.Queries()
		now := s.now().UnixMilli()
		if _, err := LockGuild(tx, guildID, now); err != nil {
			return err
		}
		cur := DefaultRaid()
		row, err := q.GetRaidSettings(tx.Context(), int64(guildID))
		switch {
		case err == nil:
			cur = raidFromRow(row)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read raid settings: %w", err)
		}
		next := cur
		if err := next.Apply(k, value); err != nil {
			return err
		}
		before, after := cur.Value(k), next.Value(k)
		if before == after {
			return fmt.Errorf("raid %s is already %s: %w", k, after, input.ErrUnchanged)
		}
		if err := q.UpsertRaidSettings(tx.Context(), raidParams(guildID, next, now)); err != nil {
			return fmt.Errorf("write raid settings: %w", err)
		}
		if err := record(tx, guildID, actor, "raid."+string(k), before, after, now); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		if errors.Is(err, input.ErrUnchanged) || errors.Is(err, input.ErrInvalid) {
			return Raid{}, err
		}
		return Raid{}, fmt.Errorf("set raid %s of guild %d: %w", k, guildID, err)
	}
	return out, nil
}

func raidFromRow(r query.RaidSetting) Raid {
	return Raid{Enabled: r.Enabled, Threshold: int(r.Threshold), Window: time.Duration(r.WindowSeconds) * time.Second,
		Quiet: time.Duration(r.QuietSeconds) * time.Second, DiscordSignal: r.DiscordSignal, PauseInvites: r.PauseInvites,
		PauseDMs: r.PauseDms, RaiseVerification: r.RaiseVerification, Joiner: JoinerAction(r.JoinerAction),
		JoinerTimeout: time.Duration(r.JoinerTimeoutSeconds) * time.Second, Lockdown: LockdownMode(r.Lockdown)}
}

func raidParams(guildID discord.GuildID, r Raid, nowMS int64) query.UpsertRaidSettingsParams {
	return query.UpsertRaidSettingsParams{GuildID: int64(guildID), Enabled: r.Enabled, Threshold: int64(r.Threshold),
		WindowSeconds: int64(r.Window / time.Second), QuietSeconds: int64(r.Quiet / time.Second), DiscordSignal: r.DiscordSignal,
		PauseInvites: r.PauseInvites, PauseDms: r.PauseDMs, RaiseVerification: r.RaiseVerification, JoinerAction: string(r.Joiner),
		JoinerTimeoutSeconds: int64(r.JoinerTimeout / time.Second), UpdatedAt: nowMS, Lockdown: r.Value(RaidLockdown)}
}

// short writes a duration as raid config reads it: "10s", "2m", "1h30m", "24h".
func short(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 48*time.Hour {
		// A day reads as 24h, as moderators type it; days from two on.
		n := d / time.Hour
		if n > 0 {
			fmt.Fprintf(&b, "%dh", n)
			d -= n * time.Hour
		}
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}

func clipText(s string) string {
	if r := []rune(s); len(r) > 100 {
		return string(r[:100]) + "…"
	}
	return s
}
