package query

import "database/sql"

// NewCase is a case row to insert; the engine allocates its number from the guild's counter
// in the same transaction, and the cases_record_creation trigger writes its "created"
// history row.
type NewCase struct {
	GuildID, UserID, ModeratorID int64
	Type, Status, Reason         string
	// RoleIDs and Metadata are JSON: an array of id strings, an object of strings.
	RoleIDs, Metadata string
	ExpiresAt         sql.NullInt64
	// SourceEventID is the event the case was made from (a command's message or
	// interaction), unique per guild; NULL for cases no event made.
	SourceEventID sql.NullInt64
	// CreatedAt is also the row's updated_at, and the guild's joined_at when it is new.
	CreatedAt int64
}

// CaseKey is what the engine allocated for a new case.
type CaseKey struct{ ID, Number int64 }
