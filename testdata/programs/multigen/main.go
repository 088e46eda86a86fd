// Program multigen runs light activity for ~1.3 s with the default trace
// generation period (~1 s), so its trace has more than one generation with
// goroutines, a task and a region that span a generation boundary.
//
// Well-known goroutines:
//   - main.longSleeper sleeps ~1.2 s in one time.Sleep call, spanning the
//     generation boundary.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: multigen OUT.trace")
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
	ctx, task := trace.NewTask(context.Background(), "long task")
	region := trace.StartRegion(ctx, "long region")
	var wg sync.WaitGroup
	wg.Add(2)
	go longSleeper(1200*time.Millisecond, &wg)
	go ticking(ctx, 1300*time.Millisecond, &wg)
	wg.Wait()
	region.End()
	task.End()
}

// longSleeper sleeps once for d.
func longSleeper(d time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	time.Sleep(d)
}

func ticking(ctx context.Context, d time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline); i++ {
		<-t.C
		trace.Logf(ctx, "tick", "%d", i)
	}
}
