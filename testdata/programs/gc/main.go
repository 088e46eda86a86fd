// Program gc creates GC pressure: allocation loops in two goroutines,
// a low GOGC, explicit runtime.GC() and debug.FreeOSMemory().
//
// With recent Go versions (seen with 1.25+), the background sweeper
// sometimes spins in runtime.Gosched at the end of a GC cycle (one goroutine
// transition per spin), which can make this trace 10-50x larger than usual;
// gen-testdata reruns the program while its trace is over this cap:
//
// gen-testdata: max-bytes 100000
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/trace"
	"sync"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gc OUT.trace")
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

type node struct {
	next *node
	data [64]byte
}

var keep []*node

func run() {
	debug.SetGCPercent(25)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go allocator(i, &wg)
	}
	wg.Wait()
	forcedGC(runtime.GC)
	keep = nil
	forcedGC(runtime.GC)
	bigAllocs()
	forcedGC(debug.FreeOSMemory)
	debug.SetGCPercent(100)
}

// allocator builds and drops linked lists, keeping a few alive.
func allocator(id int, wg *sync.WaitGroup) {
	defer wg.Done()
	var local []*node
	for round := 0; round < 40; round++ {
		var head *node
		for i := 0; i < 1000; i++ {
			head = &node{next: head}
			head.data[0] = byte(i + id)
		}
		if round%10 == 0 {
			local = append(local, head)
		}
		buf := make([]byte, 8<<10)
		buf[0] = byte(round)
	}
	mu.Lock()
	keep = append(keep, local...)
	mu.Unlock()
}

var mu sync.Mutex

var big [][]byte

func bigAllocs() {
	for i := 0; i < 4; i++ {
		big = append(big, make([]byte, 256<<10))
	}
	big = nil
}

// forcedGC runs gc (runtime.GC or debug.FreeOSMemory) with GOMAXPROCS
// temporarily set to 1. With tracing on and more than one P, runtime.GC's
// final wait for background sweeping can spin in runtime.Gosched for
// milliseconds, emitting one goroutine transition per spin: the trace size
// then varies between runs from ~30 KB to several MB. With one P the wait
// is short and bounded.
func forcedGC(gc func()) {
	prev := runtime.GOMAXPROCS(1)
	gc()
	runtime.GOMAXPROCS(prev)
}
