package upkeep

import (
	"slices"
	"sync"
	"testing"
)

// TestQueuesKeepOrderPerKey: one key's functions run one at a time in the order pushed (a
// ban and the unban just after it are numbered in that order), while another key's run
// beside them.
func TestQueuesKeepOrderPerKey(t *testing.T) {
	var q queues
	var mu sync.Mutex
	got := map[int64][]int{}
	var wg sync.WaitGroup
	running := map[int64]bool{}
	for i := range 200 {
		key := int64(i % 2)
		wg.Add(1)
		q.push(key, func() {
			defer wg.Done()
			mu.Lock()
			if running[key] {
				t.Errorf("key %d: two functions at once", key)
			}
			running[key] = true
			got[key] = append(got[key], i)
			mu.Unlock()
			mu.Lock()
			running[key] = false
			mu.Unlock()
		})
	}
	wg.Wait()
	for key, list := range got {
		if len(list) != 100 || !slices.IsSorted(list) {
			t.Errorf("key %d ran %v; want its 100 functions in order", key, list)
		}
	}
}
