package storetest

import (
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/store"
)

func TestTmpTiming(t *testing.T) {
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		for i := 0; i < 3; i++ {
			s := time.Now()
			st := Open(t, e)
			t.Logf("%s open+migrate %v", e, time.Since(s))
			s = time.Now()
			st.Close()
			t.Logf("%s close %v", e, time.Since(s))
		}
	}
}
