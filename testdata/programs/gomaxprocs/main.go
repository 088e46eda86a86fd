// Program gomaxprocs changes runtime.GOMAXPROCS mid-trace (to 4, 1, 3 and
// back) while goroutines run CPU work and block.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gomaxprocs OUT.trace")
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
	orig := runtime.GOMAXPROCS(0)
	for _, n := range []int{4, 1, 3, orig} {
		runtime.GOMAXPROCS(n)
		phase(n)
	}
}

func phase(n int) {
	var wg sync.WaitGroup
	for i := 0; i < n+2; i++ {
		wg.Add(1)
		go worker(&wg)
	}
	wg.Wait()
}

var mu sync.Mutex
var total uint64

func worker(wg *sync.WaitGroup) {
	defer wg.Done()
	for j := 0; j < 20; j++ {
		x := uint64(j)
		for i := 0; i < 50000; i++ {
			x = x*31 + uint64(i)
		}
		mu.Lock()
		total += x
		mu.Unlock()
		time.Sleep(300 * time.Microsecond)
	}
}
