package syncbuf_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/gavelbot/gavel/internal/syncbuf"
)

// TestWritesWhileReading writes from several goroutines while reading (the race detector
// checks the guard) and finds every write in the text.
func TestWritesWhileReading(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if _, err := b.Write([]byte("x")); err != nil {
					t.Error(err)
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("x", 400) {
		t.Fatalf("got %d bytes, want 400 x", len(got))
	}
}
