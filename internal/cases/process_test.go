package cases_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
	"github.com/gavelbot/gavel/internal/testmain"
)

// Environment of a child process started by TestTwoProcessesNumberDensely.
const (
	childURL   = "GAVEL_CASES_CHILD_URL"
	childCount = "GAVEL_CASES_CHILD_COUNT"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(childURL); url != "" {
		if err := runChild(url); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Up to 4 of the package's tests at once, 2 under -race (testmain.Parallel): each has a
	// store of its own (storetest) and mostly waits on it.
	testmain.Parallel(4, 2)
	os.Exit(m.Run())
}

// runChild creates its share of cases from 16 goroutines, as one gavel process would.
func runChild(url string) error {
	n, err := strconv.Atoi(os.Getenv(childCount))
	if err != nil {
		return fmt.Errorf("%s: %w", childCount, err)
	}
	ctx := context.Background()
	st, err := store.OpenURL(ctx, url, store.Options{MaxOpenConns: 20})
	if err != nil {
		return err
	}
	defer st.Close()
	s := cases.NewService(st)
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		share := n / workers
		if w < n%workers {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < share; i++ {
				if _, err := s.Create(ctx, warn(guild, user+int64(i), "two processes")); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// TestTwoProcessesNumberDensely: two separate OS processes, 16 goroutines each, create 2,000
// cases in one guild on one database; the numbers must be exactly 1..2000.
func TestTwoProcessesNumberDensely(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two processes")
	}
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			url := storetest.MigratedURL(t, e)
			ctx := context.Background()
			st, err := store.OpenURL(ctx, url, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			const total = 2000
			var wg sync.WaitGroup
			outs := make([][]byte, 2)
			errs := make([]error, 2)
			for p := 0; p < 2; p++ {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), childURL+"="+url, childCount+"="+strconv.Itoa(total/2))
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs[p], errs[p] = cmd.CombinedOutput()
				}()
			}
			wg.Wait()
			for p := range errs {
				if errs[p] != nil {
					t.Fatalf("process %d: %v\n%s", p, errs[p], outs[p])
				}
			}
			rows, err := st.Reader().QueryContext(ctx, "SELECT number FROM cases WHERE guild_id = $1 ORDER BY number", guild)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []int64
			for rows.Next() {
				var n int64
				if err := rows.Scan(&n); err != nil {
					t.Fatal(err)
				}
				got = append(got, n)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != total {
				t.Fatalf("%d cases, want %d", len(got), total)
			}
			for i, n := range got {
				if n != int64(i+1) {
					t.Fatalf("numbers are not exactly 1..%d: position %d holds %d", total, i, n)
				}
			}
			var events int64
			if err := st.Reader().QueryRowContext(ctx, "SELECT COUNT(*) FROM case_events WHERE guild_id = $1 AND kind = 'created'", guild).Scan(&events); err != nil {
				t.Fatal(err)
			}
			if events != total {
				t.Errorf("%d creation history rows, want %d", events, total)
			}
		})
	}
}
