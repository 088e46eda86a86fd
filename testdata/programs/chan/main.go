// Program chan exercises channels and select.
//
// Well-known goroutines (tests depend on these; see testdata/README.md):
//   - main.blockedReceiver blocks in a channel receive for ~60 ms
//     (main.delayedSender sleeps 60 ms, then sends).
//   - main.blockedSender blocks in a send on a full buffered channel for ~25 ms.
//   - main.blockedSelector blocks in a two-case select for ~20 ms.
package main

import (
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chan OUT.trace")
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

	// 1. A goroutine blocked on a channel receive for >= 50 ms.
	ch := make(chan int)
	done := make(chan struct{})
	wg.Add(1)
	go blockedReceiver(ch, done, &wg)
	delayedSender(ch)
	<-done

	// 2. Ping-pong over unbuffered channels.
	ping, pong := make(chan int), make(chan int)
	wg.Add(2)
	go pinger(ping, pong, 1000, &wg)
	go ponger(ping, pong, &wg)
	wg.Wait()

	// 3. Producers/consumers over a small buffered channel.
	work := make(chan int, 4)
	results := make(chan int, 4)
	var pwg sync.WaitGroup
	for i := 0; i < 3; i++ {
		pwg.Add(1)
		go producer(i, work, &pwg)
	}
	var cwg sync.WaitGroup
	for i := 0; i < 2; i++ {
		cwg.Add(1)
		go consumer(work, results, &cwg)
	}
	go func() {
		pwg.Wait()
		close(work)
		cwg.Wait()
		close(results)
	}()
	sum := 0
	for r := range results {
		sum += r
	}
	_ = sum

	// 4. A sender blocked on a full buffered channel.
	full := make(chan int, 1)
	full <- 0
	wg.Add(1)
	go blockedSender(full, &wg)
	time.Sleep(25 * time.Millisecond)
	<-full
	<-full
	wg.Wait()

	// 5. Select: blocked multi-case select, default case, timeout case.
	a, b := make(chan int), make(chan string)
	wg.Add(1)
	go blockedSelector(a, b, &wg)
	time.Sleep(20 * time.Millisecond)
	b <- "hello"
	wg.Wait()
	selectPolling()
	selectTimeout()

	// 6. Broadcast by closing a channel.
	gate := make(chan struct{})
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go gateWaiter(gate, &wg)
	}
	time.Sleep(5 * time.Millisecond)
	close(gate)
	wg.Wait()

	// 7. Fan-in with select over several producers.
	fanIn()
}

// blockedReceiver blocks in `<-ch` until delayedSender sends (~60 ms).
func blockedReceiver(ch <-chan int, done chan<- struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	v := <-ch
	_ = v
	close(done)
}

// delayedSender sleeps 60 ms, then sends on ch.
func delayedSender(ch chan<- int) {
	time.Sleep(60 * time.Millisecond)
	ch <- 42
}

func pinger(ping chan<- int, pong <-chan int, n int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	close(ping)
}

func ponger(ping <-chan int, pong chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for v := range ping {
		pong <- v + 1
	}
}

func producer(id int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < 100; i++ {
		out <- id*1000 + i
	}
}

func consumer(in <-chan int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for v := range in {
		x := 0
		for j := 0; j < 200; j++ {
			x += v ^ j
		}
		out <- x
	}
}

// blockedSender blocks sending on a full buffered channel for ~25 ms.
func blockedSender(full chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	full <- 1
}

// blockedSelector blocks in a two-case select for ~20 ms.
func blockedSelector(a <-chan int, b <-chan string, wg *sync.WaitGroup) {
	defer wg.Done()
	select {
	case <-a:
	case <-b:
	}
}

func selectPolling() {
	c := make(chan int, 1)
	n := 0
	for i := 0; i < 50; i++ {
		select {
		case v := <-c:
			n += v
		default:
			c <- i
		}
	}
	_ = n
}

func selectTimeout() {
	var never chan int // nil channel: never ready
	for i := 0; i < 3; i++ {
		select {
		case <-never:
		case <-time.After(3 * time.Millisecond):
		}
	}
}

func gateWaiter(gate <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-gate
}

func fanIn() {
	c1, c2, c3 := make(chan int), make(chan int), make(chan int)
	quit := make(chan struct{})
	src := func(c chan<- int, d time.Duration) {
		for i := 0; ; i++ {
			select {
			case c <- i:
				time.Sleep(d)
			case <-quit:
				return
			}
		}
	}
	go src(c1, time.Millisecond)
	go src(c2, 2*time.Millisecond)
	go src(c3, 3*time.Millisecond)
	got := 0
	for got < 60 {
		select {
		case <-c1:
		case <-c2:
		case <-c3:
		}
		got++
	}
	close(quit)
	time.Sleep(5 * time.Millisecond)
}
