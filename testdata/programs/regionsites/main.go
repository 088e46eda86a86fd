//go:build go1.27

// Program regionsites starts regions of one type from several places, so
// that `go tool trace`'s regions page, which splits a type by where its
// regions began, lists it more than once: "query" regions from goroutines
// started at two functions, one of which starts them on two lines, and from
// the main goroutine; "load" regions from one place only.
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
		fmt.Fprintln(os.Stderr, "usage: regionsites OUT.trace")
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
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go fetch(ctx, &wg)
	}
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go store(ctx, &wg)
	}
	wg.Wait()
	trace.WithRegion(ctx, "query", func() { time.Sleep(500 * time.Microsecond) })
}

func fetch(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	trace.WithRegion(ctx, "query", func() { time.Sleep(2 * time.Millisecond) })
	trace.WithRegion(ctx, "load", func() { time.Sleep(time.Millisecond) })
}

func store(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	trace.WithRegion(ctx, "query", func() { time.Sleep(time.Millisecond) })
	r := trace.StartRegion(ctx, "query")
	time.Sleep(3 * time.Millisecond)
	r.End()
}
