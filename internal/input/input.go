// Package input is the vocabulary every domain package uses to refuse a request: input that
// is wrong (InvalidError, matched by ErrInvalid) and a change that would leave things as they
// are (ErrUnchanged). Callers branch on these with errors.Is and errors.As whichever package
// returned them, so the front ends word a refusal the same way everywhere.
package input

import "errors"

// ErrInvalid is matched (with errors.Is) by every *InvalidError.
var ErrInvalid = errors.New("invalid input")

// ErrUnchanged is returned by a change that would leave things as they are. Nothing has been
// written, and no history row added, when it is returned.
var ErrUnchanged = errors.New("nothing to change")

// InvalidError says which input was wrong and what is accepted. Nothing has been written
// when it is returned.
type InvalidError struct {
	Field   string
	Problem string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Problem }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns an *InvalidError for field.
func Invalid(field, problem string) error { return &InvalidError{Field: field, Problem: problem} }
