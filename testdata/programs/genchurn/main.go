//go:build go1.27

// Program genchurn starts short-lived goroutines all through ~0.4 s, with
// a generation every ~0.1 s (the "gen-testdata: env" line below), so its
// trace has several generations and goroutines that are created and exit
// within each of them, the first ones right after a generation boundary. gotv finishes such a goroutine in the generation
// that made it, before it knows how Go's repair of times across the
// boundary moves that generation's first events.
//
// Well-known goroutines:
//   - main.worker: three every ~2 ms, each passes a value on to the next
//     over an unbuffered channel and exits.
//
// gen-testdata: env GODEBUG=traceadvanceperiod=100000000
package main

import (
	"sync"
	"time"

	"gotvtestdata/internal/traceout"
)

func main() {
	traceout.Run("genchurn", run)
}

func run() {
	deadline := time.Now().Add(400 * time.Millisecond)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		<-tick.C
		batch(3)
	}
}

// batch starts n workers in a chain and waits for the last.
func batch(n int) {
	var wg sync.WaitGroup
	in := make(chan int)
	first := in
	for i := 0; i < n; i++ {
		out := make(chan int)
		wg.Add(1)
		go worker(in, out, &wg)
		in = out
	}
	first <- 1
	<-in
	wg.Wait()
}

// worker receives a value, passes it on plus one, and exits.
func worker(in <-chan int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	out <- <-in + 1
}
