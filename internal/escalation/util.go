package escalation

import (
	"encoding/json"
	"errors"

	"github.com/gavelbot/gavel/internal/input"
)

// asInvalid is the problem an *input.InvalidError states, or "" for another error.
func asInvalid(err error) string {
	var inv *input.InvalidError
	if errors.As(err, &inv) {
		return inv.Problem
	}
	return ""
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
