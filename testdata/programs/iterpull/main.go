//go:build go1.23

// Program iterpull exercises iter.Pull coroutines (Go 1.23+): interleaved
// pulls from two generators, early stop, and pulls from several goroutines.
package main

import (
	"fmt"
	"iter"
	"os"
	"runtime/trace"
	"sync"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: iterpull OUT.trace")
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

func run() {
	// Interleave two pull iterators (a merge of two sorted sequences).
	next1, stop1 := iter.Pull(countBy(0, 3, 200))
	next2, stop2 := iter.Pull(countBy(1, 2, 300))
	a, ok1 := next1()
	b, ok2 := next2()
	var merged []int
	for ok1 || ok2 {
		if ok1 && (!ok2 || a <= b) {
			merged = append(merged, a)
			a, ok1 = next1()
		} else {
			merged = append(merged, b)
			b, ok2 = next2()
		}
	}
	stop1()
	stop2()

	// Stop a pull iterator early.
	next, stop := iter.Pull(countBy(0, 1, 1000000))
	for i := 0; i < 10; i++ {
		next()
	}
	stop()

	// Pull iterators driven from several goroutines.
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			next, stop := iter.Pull(countBy(g, 1, 100))
			defer stop()
			for {
				if _, ok := next(); !ok {
					return
				}
			}
		}(g)
	}
	wg.Wait()
	_ = merged
}

// countBy yields n values start, start+step, ...
func countBy(start, step, n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		v := start
		for i := 0; i < n; i++ {
			if !yield(v) {
				return
			}
			v += step
		}
	}
}
