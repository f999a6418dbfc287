package input_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gavelbot/gavel/internal/input"
)

func TestInvalidIsMatchedThroughWrapping(t *testing.T) {
	err := fmt.Errorf("set prefix: %w", input.Invalid("prefix", "is empty; accepted: 1 to 5 characters"))
	if !errors.Is(err, input.ErrInvalid) {
		t.Fatalf("%v does not match ErrInvalid", err)
	}
	if errors.Is(err, input.ErrUnchanged) {
		t.Fatalf("%v matches ErrUnchanged", err)
	}
	var ie *input.InvalidError
	if !errors.As(err, &ie) || ie.Field != "prefix" || ie.Problem != "is empty; accepted: 1 to 5 characters" {
		t.Fatalf("errors.As gave %+v", ie)
	}
	if got, want := err.Error(), "set prefix: prefix: is empty; accepted: 1 to 5 characters"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if errors.Is(fmt.Errorf("x: %w", input.ErrUnchanged), input.ErrInvalid) {
		t.Fatal("ErrUnchanged matches ErrInvalid")
	}
}
