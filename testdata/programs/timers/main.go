// Program timers exercises time.Sleep, time.After, time.Ticker,
// time.AfterFunc, Timer.Reset/Stop and context deadlines.
//
// gen-testdata runs it with a short trace generation period (see the
// "gen-testdata: env" line below) so that its trace has many generations.
//
// gen-testdata: env GODEBUG=traceadvanceperiod=100000000
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
		fmt.Fprintln(os.Stderr, "usage: timers OUT.trace")
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
	var wg sync.WaitGroup

	// 1. Sleeps of various lengths in parallel goroutines.
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go sleeper(time.Duration(i)*time.Millisecond, 20, &wg)
	}

	// 2. A ticker.
	wg.Add(1)
	go tickerLoop(5*time.Millisecond, 40, &wg)

	// 3. time.After in a select loop.
	wg.Add(1)
	go afterLoop(&wg)

	// 4. AfterFunc callbacks.
	var fired sync.WaitGroup
	for i := 0; i < 10; i++ {
		fired.Add(1)
		time.AfterFunc(time.Duration(i*3)*time.Millisecond, func() {
			fired.Done()
		})
	}
	fired.Wait()

	// 5. Timer Reset/Stop.
	timerResets()

	// 6. Context with deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	<-ctx.Done()
	cancel()

	wg.Wait()

	// 7. Idle period: nothing but one sleeping goroutine, spanning
	// generation boundaries.
	time.Sleep(150 * time.Millisecond)
}

func sleeper(d time.Duration, n int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < n; i++ {
		time.Sleep(d)
	}
}

func tickerLoop(d time.Duration, n int, wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for i := 0; i < n; i++ {
		<-t.C
	}
}

func afterLoop(wg *sync.WaitGroup) {
	defer wg.Done()
	c := make(chan int)
	go func() {
		for i := 0; i < 5; i++ {
			time.Sleep(7 * time.Millisecond)
			c <- i
		}
	}()
	timeouts := 0
	got := 0
	for got < 5 {
		select {
		case <-c:
			got++
		case <-time.After(4 * time.Millisecond):
			timeouts++
		}
	}
	_ = timeouts
}

func timerResets() {
	t := time.NewTimer(time.Hour)
	for i := 0; i < 5; i++ {
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(2 * time.Millisecond)
		<-t.C
	}
	t.Reset(time.Hour)
	t.Stop()
}
