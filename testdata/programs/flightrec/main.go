//go:build go1.25

// Program flightrec runs the runtime/trace flight recorder (Go 1.25+) while
// some background activity runs for ~600 ms, then writes a snapshot of the
// recorder's window with (*trace.FlightRecorder).WriteTo to os.Args[1].
// It does not call trace.Start.
//
// gen-testdata runs it with a short trace generation period so that the
// snapshot holds several generations, the first of which begins mid-run
// (older generations have been dropped from the recorder's window).
//
// gen-testdata: env GODEBUG=traceadvanceperiod=100000000
package main

import (
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: flightrec OUT.trace")
		os.Exit(2)
	}
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{
		MinAge:   200 * time.Millisecond,
		MaxBytes: 1 << 20,
	})
	if err := fr.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	slow := activity(600 * time.Millisecond)

	f, err := os.Create(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := fr.WriteTo(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fr.Stop()
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = slow
}

// activity runs a ticker-driven worker pool for d and reports how many
// "slow" operations it saw (the reason one would snapshot the recorder).
func activity(d time.Duration) int {
	var wg sync.WaitGroup
	jobs := make(chan int)
	var mu sync.Mutex
	slow := 0
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				start := time.Now()
				time.Sleep(time.Duration(j%5) * time.Millisecond)
				if time.Since(start) > 3*time.Millisecond {
					mu.Lock()
					slow++
					mu.Unlock()
				}
			}
		}()
	}
	t := time.NewTicker(2 * time.Millisecond)
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline); i++ {
		<-t.C
		jobs <- i
	}
	t.Stop()
	close(jobs)
	wg.Wait()
	return slow
}
