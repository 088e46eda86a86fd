// Program manyg starts thousands of short-lived goroutines: a flat batch,
// a tree of goroutines spawning goroutines, and a chain.
package main

import (
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"sync/atomic"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: manyg OUT.trace")
		os.Exit(2)
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := trace.Start(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	run()
	trace.Stop()
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var count int64

func run() {
	var wg sync.WaitGroup
	// Flat: 6000 goroutines.
	for i := 0; i < 6000; i++ {
		wg.Add(1)
		go shortLived(i, &wg)
	}
	wg.Wait()
	// Tree: depth 9, fan-out 2 => 511 goroutines.
	wg.Add(1)
	go tree(9, &wg)
	wg.Wait()
	// Chain: each goroutine starts the next one.
	done := make(chan struct{})
	go chain(500, done)
	<-done
}

func shortLived(i int, wg *sync.WaitGroup) {
	defer wg.Done()
	atomic.AddInt64(&count, int64(i))
}

func tree(depth int, wg *sync.WaitGroup) {
	defer wg.Done()
	atomic.AddInt64(&count, 1)
	if depth <= 1 {
		return
	}
	wg.Add(2)
	go tree(depth-1, wg)
	go tree(depth-1, wg)
}

func chain(n int, done chan struct{}) {
	if n == 0 {
		close(done)
		return
	}
	go chain(n-1, done)
}
