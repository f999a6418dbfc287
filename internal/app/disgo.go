package app

import (
	ddiscord "github.com/disgoorg/disgo/discord"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/router"
)

// The AutoMod runtime reads disgo's events itself until it moves to a package of its own;
// it translates them as the router does.

func fromDisgoUser(u ddiscord.User) discord.User { return router.User(u) }

func roleIDs[T ~uint64](ids []T) []int64 { return router.RoleIDs(ids) }
