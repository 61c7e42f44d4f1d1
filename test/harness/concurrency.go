package harness

import (
	"sync"
)

// Concurrently runs n calls of fn at once (fn(i) for i in 0..n-1) and
// tallies the outcomes they return; then it checks the database's
// invariants, since concurrency is where they break.
func (s *Server) Concurrently(n int, fn func(i int) string) map[string]int {
	s.t.Helper()
	var mu sync.Mutex
	tally := map[string]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			o := fn(i)
			mu.Lock()
			tally[o]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	CheckInvariants(s.t, s.DB())
	return tally
}

// Load is traffic from workers running until stopped (Stop) or until each
// gives up by itself (Wait).
type Load struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	stopped sync.Once
}

// StartLoad starts workers that each call fn(worker, i) for i = 0, 1, ...
// until fn returns false or the load is stopped. When the test ends, the
// load is stopped and the database's invariants are checked: last, since a
// test under load may break the database on purpose and wait for it to
// recover.
func (s *Server) StartLoad(workers int, fn func(worker, i int) bool) *Load {
	// Opened now, so that it closes after the check below (cleanups run
	// last first).
	bdb := s.DB()
	l := &Load{stop: make(chan struct{})}
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if !fn(w, i) {
					return
				}
			}
		})
	}
	s.t.Cleanup(func() {
		l.Stop()
		CheckInvariants(s.t, bdb)
	})
	return l
}

// Stop stops the workers and waits for them.
func (l *Load) Stop() {
	l.stopped.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// Wait waits for the workers to give up by themselves.
func (l *Load) Wait() { l.wg.Wait() }
