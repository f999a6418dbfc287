package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/sqlite"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// asciiContains is SQLite's LIKE '%word%': a substring, ASCII letters in either case, every
// other character as it is.
func asciiContains(s, word string) bool {
	lower := func(x string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, x)
	}
	return strings.Contains(lower(s), lower(word))
}

// TestReasonSearchOnSQLite checks that SQLite's reason search answers the same through the
// trigram index (rare words) as through reading the guild (common words, and words under
// three letters): the reasons holding every word as a substring, ASCII case-insensitively,
// in the guild asked for, whether the case is in the index or above its mark (not indexed
// yet); and that the index follows reason edits.
func TestReasonSearchOnSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite)
	db := st.Writer()
	mustExec(t, db, `INSERT INTO guilds (id, joined_at) VALUES (1, 0), (2, 0)`)
	reasons := []string{
		"Posted a ZALGO wall", "zalgo again", "spam links", "SPAMMING in general", "ok go",
		"Élan vital", "ÉLAN VITAL", "crypto wallet scam", "wallet drainer", "tokenlogger link",
		"spam, zalgo and crypto", "go away", "a", "x1 y2 z3", "zalg o", "naïve naÏve",
	}
	type row struct {
		guild  int64
		reason string
	}
	var rows []row
	for i := range 60 {
		for g := int64(1); g <= 2; g++ {
			rows = append(rows, row{g, reasons[(i+int(g))%len(reasons)]})
		}
	}
	for i, r := range rows {
		if i == len(rows)/2 {
			// The first half in the index, the rest above its mark.
			if n, err := st.IndexReasons(ctx); err != nil || n != int64(i) {
				t.Fatalf("indexed %d (%v); want %d", n, err, i)
			}
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, created_at, updated_at)
			VALUES ($1, $2, 'WARN', 'active', $3, 7, 8, $4, $4)`, r.guild, i+1, r.reason, i); err != nil {
			t.Fatal(err)
		}
	}
	want := func(guild int64, words []string) []string {
		var out []string
		for i := len(rows) - 1; i >= 0; i-- {
			r := rows[i]
			if r.guild != guild {
				continue
			}
			ok := true
			for _, w := range words {
				ok = ok && asciiContains(r.reason, w)
			}
			if ok {
				out = append(out, r.reason)
			}
		}
		return out
	}
	searches := [][]string{
		{"zalgo"}, {"ZaLgO"}, {"zal"}, {"spam"}, {"spam", "zalgo"}, {"go"}, {"o"}, {"élan"}, {"ÉLAN"},
		{"wallet"}, {"crypto", "scam"}, {"nothere"}, {"ai"}, {"naïve"}, {"zalgowall"}, {"x1"}, {"lan", "vi"},
	}
	for _, limit := range []int{1 << 20, 1} { // through the index; by reading the guild
		store.SetTrigramCandidateLimit(st, limit)
		for _, words := range searches {
			for g := int64(1); g <= 2; g++ {
				got, err := st.ListCases(ctx, store.CaseFilter{GuildID: g, ReasonWords: words}, store.HighestNumberFirst, 1000, 0)
				if err != nil {
					t.Fatalf("limit %d, %q: %v", limit, words, err)
				}
				var reasons []string
				for _, c := range got {
					reasons = append(reasons, c.Reason)
				}
				if w := want(g, words); !slices.Equal(reasons, w) {
					t.Errorf("limit %d, guild %d, %q: got %q, want %q", limit, g, words, reasons, w)
				}
				n, err := st.CountCases(ctx, store.CaseFilter{GuildID: g, ReasonWords: words})
				if err != nil || n != int64(len(want(g, words))) {
					t.Errorf("limit %d, guild %d, %q: count %d (%v), want %d", limit, g, words, n, err, len(want(g, words)))
				}
			}
		}
	}

	// An edited reason, in the index (case 1) or above its mark (the last case), is found by
	// its new words and no longer by its old ones, before and after the rest is indexed.
	store.SetTrigramCandidateLimit(st, 1<<20)
	last := len(rows)
	mustExec(t, db, `UPDATE cases SET reason = 'quokka smuggling' WHERE id = 1`)
	mustExec(t, db, fmt.Sprintf(`UPDATE cases SET reason = 'wombat smuggling' WHERE id = %d`, last))
	rows[0].reason, rows[last-1].reason = "quokka smuggling", "wombat smuggling"
	check := func(when string) {
		t.Helper()
		for _, words := range [][]string{{"quokka"}, {"wombat"}, {"smuggl"}, {"zalgo"}, {"spam"}, {"crypto"}} {
			for g := int64(1); g <= 2; g++ {
				got, err := st.ListCases(ctx, store.CaseFilter{GuildID: g, ReasonWords: words}, store.HighestNumberFirst, 1000, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want(g, words)) {
					t.Errorf("%s, guild %d, %q: %d cases, want %d", when, g, words, len(got), len(want(g, words)))
				}
			}
		}
	}
	check("after the edits")
	if n, err := st.IndexReasons(ctx); err != nil || n != int64(last-last/2) {
		t.Fatalf("indexed %d (%v); want the %d above the mark", n, err, last-last/2)
	}
	check("with everything indexed")
	mustExec(t, db, `INSERT INTO cases_reason_trigrams (cases_reason_trigrams, rank) VALUES ('integrity-check', 1)`)
}

// TestReasonTrigramsMigration builds the index over cases made before it (the 'rebuild' of
// migration 11), and takes it away again on the way down.
func TestReasonTrigramsMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.OpenUnmigrated(t, store.SQLite)
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MigrateDown(ctx, 10, true); err != nil {
		t.Fatal(err)
	}
	db := st.Writer()
	mustExec(t, db, `INSERT INTO guilds (id, joined_at) VALUES (1, 0)`)
	for i := 1; i <= 3; i++ {
		mustExec(t, db, fmt.Sprintf(`INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, created_at, updated_at)
			VALUES (1, %d, 'WARN', 'active', 'made before the index %d', 7, 8, 0, 0)`, i, i))
	}
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.Reader().QueryRow(`SELECT COUNT(*) FROM cases_reason_trigrams WHERE cases_reason_trigrams MATCH '"ind" AND "dex"'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("the index names %d cases (%v), want the 3 made before it", n, err)
	}
	if _, err := st.MigrateDown(ctx, 10, true); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range tables(t, st) {
		if strings.HasPrefix(tbl, "cases_reason_trigrams") {
			t.Errorf("after the way down, %s is still there", tbl)
		}
	}
	mustExec(t, db, `UPDATE cases SET reason = 'no index to follow' WHERE number = 1`)
}

// TestCaseCreationIndexesReasonsInBatches: cases made through the store wait above the
// reason index's mark until sqlite.ReasonIndexLag of them have gathered, and are then
// indexed in the creating transaction; the search finds them either way.
func TestCaseCreationIndexesReasonsInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite)
	mark := func() int64 {
		var n int64
		if err := st.Reader().QueryRow(`SELECT upto FROM cases_reason_trigrams_upto`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	find := func(word string) int {
		got, err := st.ListCases(ctx, store.CaseFilter{GuildID: 1, ReasonWords: []string{word}}, store.HighestNumberFirst, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	create := func(i int) store.CaseKey {
		k, err := st.CreateCase(ctx, store.NewCase{GuildID: 1, UserID: 8, ModeratorID: 7, Type: "WARN", Status: "active",
			Reason: fmt.Sprintf("case %d said platypus%d", i, i), RoleIDs: "[]", Metadata: "{}", CreatedAt: int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	for i := 1; i < sqlite.ReasonIndexLag; i++ {
		create(i)
	}
	if m := mark(); m != 0 {
		t.Errorf("the mark moved to %d before %d cases gathered", m, sqlite.ReasonIndexLag)
	}
	if got := find("platypus1000"); got != 1 {
		t.Errorf("an unindexed case: found %d; want 1", got)
	}
	k := create(sqlite.ReasonIndexLag)
	if m := mark(); m != k.ID {
		t.Errorf("after the %dth case the mark is %d; want its id %d", sqlite.ReasonIndexLag, m, k.ID)
	}
	if got := find("platypus1000"); got != 1 {
		t.Errorf("an indexed case: found %d; want 1", got)
	}
	mustExec(t, st.Writer(), `INSERT INTO cases_reason_trigrams (cases_reason_trigrams, rank) VALUES ('integrity-check', 1)`)
}

// TestReasonMarkAfterARollback: the store keeps the reason index's mark as last committed
// so that case creation need not read it every time; a transaction that indexed and rolled
// back leaves it where it was, and the next batch of cases is still indexed when it
// gathers.
func TestReasonMarkAfterARollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite)
	mark := func() int64 {
		var n int64
		if err := st.Reader().QueryRow(`SELECT upto FROM cases_reason_trigrams_upto`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	newCase := func(i int) store.NewCase {
		return store.NewCase{GuildID: 1, UserID: 8, ModeratorID: 7, Type: "WARN", Status: "active",
			Reason: fmt.Sprintf("case %d said wombat%04dx", i, i), RoleIDs: "[]", Metadata: "{}", CreatedAt: int64(i)}
	}
	batch := make([]store.NewCase, sqlite.ReasonIndexLag)
	for i := range batch {
		batch[i] = newCase(i + 1)
	}
	refused := fmt.Errorf("refused")
	err := st.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.InsertCases(batch); err != nil {
			return err
		}
		return refused
	})
	if err != refused {
		t.Fatalf("InTx: %v; want the refusal", err)
	}
	if m := mark(); m != 0 {
		t.Fatalf("after the rollback the mark is %d; want 0", m)
	}
	var last store.CaseKey
	for i := 1; i <= sqlite.ReasonIndexLag; i++ {
		k, err := st.CreateCase(ctx, newCase(i))
		if err != nil {
			t.Fatal(err)
		}
		last = k
	}
	if m := mark(); m != last.ID {
		t.Errorf("after %d cases committed the mark is %d; want the last one's id %d", sqlite.ReasonIndexLag, m, last.ID)
	}
	got, err := st.ListCases(ctx, store.CaseFilter{GuildID: 1, ReasonWords: []string{"wombat0007x"}}, store.HighestNumberFirst, 10, 0)
	if err != nil || len(got) != 1 {
		t.Errorf("search for wombat0007x: %d cases, %v; want 1", len(got), err)
	}
}

// TestMemberListingReadsTheMemberIndex: a member's cases by number, on SQLite, are found
// through (guild_id, user_id, id), not by walking the guild's cases by number.
func TestMemberListingReadsTheMemberIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite)
	mustExec(t, st.Writer(), `INSERT INTO guilds (id, joined_at) VALUES (1, 0)`)
	for i := 1; i <= 30; i++ {
		mustExec(t, st.Writer(), fmt.Sprintf(`INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, created_at, updated_at)
			VALUES (1, %d, 'WARN', 'active', 'r', 7, %d, 0, 0)`, i, 8+i%3))
	}
	got, err := st.ListCases(ctx, store.CaseFilter{GuildID: 1, UserID: 9, NumberBelow: 29}, store.HighestNumberFirst, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	var nums []int64
	for _, c := range got {
		nums = append(nums, c.Number)
	}
	if !slices.Equal(nums, []int64{28, 25, 22}) {
		t.Errorf("member 9's cases below 29: %v; want 28, 25, 22", nums)
	}
	rows, err := st.Reader().Query(`EXPLAIN QUERY PLAN SELECT id FROM cases WHERE guild_id = 1 AND user_id = 9 ORDER BY +number DESC LIMIT 51`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "; "
	}
	if !strings.Contains(plan, "cases_guild_user") {
		t.Errorf("the listing's plan: %s", plan)
	}
}
