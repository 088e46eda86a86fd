// Program cpuprof runs the CPU profiler (to io.Discard) while tracing, so
// the trace contains CPU samples, with two CPU-bound goroutines running
// main.cpuBurnA and main.cpuBurnB for ~400 ms.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cpuprof OUT.trace")
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
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go cpuBurnA(400*time.Millisecond, &wg)
	go cpuBurnB(400*time.Millisecond, &wg)
	wg.Wait()
	pprof.StopCPUProfile()
}

var sinkA, sinkB uint64

func cpuBurnA(d time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	deadline := time.Now().Add(d)
	x := uint64(1)
	for time.Now().Before(deadline) {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sinkA = x
}

func cpuBurnB(d time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	deadline := time.Now().Add(d)
	x := uint64(0)
	for time.Now().Before(deadline) {
		x += fib(20)
	}
	sinkB = x
}

func fib(n int) uint64 {
	if n < 2 {
		return uint64(n)
	}
	return fib(n-1) + fib(n-2)
}
