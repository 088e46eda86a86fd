// Command shapes writes an execution trace of one shape a program can give
// its trace, many times over, to measure what each costs gotv's build:
//
//	go run . -mode regions -n 2000000 regions.trace   # 4 M user regions (~40 MB)
//	go run . -mode tasks   -n 2000000 tasks.trace     # 2 M tasks, each with a log (~60 MB)
//	go run . -mode logs    -n 2000000 logs.trace      # 2 M distinct log messages (~69 MB)
//	go run . -mode stacks  -n 2000000 stacks.trace    # 2 M goroutines blocked at 200 depths (~69 MB)
//	go run . -mode procs   -n 2000000 procs.trace     # 2 M goroutines on GOMAXPROCS=256 (~50 MB)
//	go run . -mode conns   -n 1000000 conns.trace     # 1 M goroutines made, blocked, then all woken (~90 MB)
//
// A server that makes a task per request, marks its stages as regions and
// logs a line per request has as many annotation events as scheduling
// ones; testdata/bench/busy has few of them. Sizes are from Go 1.27.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"strconv"
	"sync"
)

var (
	mode = flag.String("mode", "regions", "regions, tasks, logs, stacks, procs or conns")
	n    = flag.Int("n", 1000000, "how many (see the package comment)")
)

// nest calls f at depth d, so the stacks f blocks in differ.
//
//go:noinline
func nest(d int, f func()) {
	if d == 0 {
		f()
		return
	}
	nest(d-1, f)
}

// onWorkers runs body(i) for i in [0, n) on four goroutines.
func onWorkers(body func(ctx context.Context, i int)) {
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < *n; i += 4 {
				body(context.Background(), i)
			}
		}()
	}
	wg.Wait()
}

func main() {
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: shapes [-mode M] [-n N] OUT.trace")
		os.Exit(2)
	}
	f, err := os.Create(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := trace.Start(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	switch *mode {
	case "regions":
		onWorkers(func(ctx context.Context, i int) {
			outer := trace.StartRegion(ctx, "outer")
			trace.StartRegion(ctx, "inner").End()
			outer.End()
		})
	case "tasks":
		onWorkers(func(ctx context.Context, i int) {
			tctx, task := trace.NewTask(ctx, "job")
			trace.Log(tctx, "k", "v")
			task.End()
		})
	case "logs":
		ctx := context.Background()
		for i := 0; i < *n; i++ {
			trace.Log(ctx, "cat", "message number "+strconv.Itoa(i))
		}
	case "stacks":
		ch := make(chan int)
		var wg sync.WaitGroup
		for i := 0; i < *n; i++ {
			wg.Add(1)
			go func(d int) {
				defer wg.Done()
				nest(d, func() { <-ch })
			}(i % 200)
			if i%1000 == 999 {
				for j := 0; j < 1000; j++ {
					ch <- j
				}
			}
		}
		for j := 0; j < *n%1000; j++ {
			ch <- j
		}
		wg.Wait()
	case "procs":
		runtime.GOMAXPROCS(256)
		var wg sync.WaitGroup
		for i := 0; i < *n; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); runtime.Gosched() }()
		}
		wg.Wait()
	case "conns":
		// A server taking connections: each goroutine does a little,
		// then waits, across generations, until the server stops.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < *n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.Gosched()
				<-stop
			}()
		}
		close(stop)
		wg.Wait()
	default:
		fmt.Fprintln(os.Stderr, "unknown -mode", *mode)
		os.Exit(2)
	}
	trace.Stop()
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
