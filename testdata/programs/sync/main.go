// Program sync exercises sync.Mutex, sync.RWMutex, sync.WaitGroup,
// sync.Cond and sync.Once under contention.
//
// Well-known goroutines:
//   - main.mutexWaiter blocks on a sync.Mutex for ~30 ms (main.mutexHolder
//     holds it while sleeping).
//   - main.condWaiter goroutines block in sync.Cond.Wait.
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
		fmt.Fprintln(os.Stderr, "usage: sync OUT.trace")
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
	// 1. A goroutine blocked on a mutex held by a sleeping goroutine.
	var mu sync.Mutex
	var wg sync.WaitGroup
	held := make(chan struct{})
	wg.Add(2)
	go mutexHolder(&mu, held, &wg)
	<-held
	go mutexWaiter(&mu, &wg)
	wg.Wait()

	// 2. Heavy contention on one mutex.
	counter := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go mutexContender(&mu, &counter, &wg)
	}
	wg.Wait()

	// 3. RWMutex: many readers, a few writers.
	var rw sync.RWMutex
	table := map[int]int{}
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go rwReader(&rw, table, &wg)
	}
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go rwWriter(i, &rw, table, &wg)
	}
	wg.Wait()

	// 4. sync.Cond: a bounded queue with waiting consumers and Broadcast.
	condQueue()

	// 5. sync.Once raced by several goroutines.
	var once sync.Once
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			once.Do(func() { time.Sleep(5 * time.Millisecond) })
		}()
	}
	wg.Wait()

	// 6. Nested WaitGroups: a coordinator waits for workers.
	var outer sync.WaitGroup
	for i := 0; i < 3; i++ {
		outer.Add(1)
		go coordinator(&outer)
	}
	outer.Wait()
}

func mutexHolder(mu *sync.Mutex, held chan<- struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	mu.Lock()
	close(held)
	time.Sleep(30 * time.Millisecond)
	mu.Unlock()
}

// mutexWaiter blocks in mu.Lock for ~30 ms.
func mutexWaiter(mu *sync.Mutex, wg *sync.WaitGroup) {
	defer wg.Done()
	mu.Lock()
	mu.Unlock()
}

func mutexContender(mu *sync.Mutex, counter *int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < 800; i++ {
		mu.Lock()
		*counter++
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		} else {
			spin(2000)
		}
		mu.Unlock()
	}
}

func rwReader(rw *sync.RWMutex, table map[int]int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < 400; i++ {
		rw.RLock()
		_ = table[i]
		spin(1000)
		rw.RUnlock()
	}
}

func rwWriter(id int, rw *sync.RWMutex, table map[int]int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < 20; i++ {
		rw.Lock()
		table[id*100+i] = i
		time.Sleep(500 * time.Microsecond)
		rw.Unlock()
		time.Sleep(200 * time.Microsecond)
	}
}

func condQueue() {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	var queue []int
	closed := false
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go condWaiter(&mu, cond, &queue, &closed, &wg)
	}
	for i := 0; i < 200; i++ {
		mu.Lock()
		queue = append(queue, i)
		mu.Unlock()
		if i%10 == 9 {
			cond.Broadcast()
			time.Sleep(2 * time.Millisecond)
		} else {
			cond.Signal()
		}
	}
	mu.Lock()
	closed = true
	mu.Unlock()
	cond.Broadcast()
	wg.Wait()
}

// condWaiter consumes items from queue, blocking in cond.Wait when empty.
func condWaiter(mu *sync.Mutex, cond *sync.Cond, queue *[]int, closed *bool, wg *sync.WaitGroup) {
	defer wg.Done()
	mu.Lock()
	defer mu.Unlock()
	for {
		for len(*queue) == 0 && !*closed {
			cond.Wait()
		}
		if len(*queue) == 0 && *closed {
			return
		}
		*queue = (*queue)[1:]
		mu.Unlock()
		spin(5000)
		mu.Lock()
	}
}

func coordinator(outer *sync.WaitGroup) {
	defer outer.Done()
	var inner sync.WaitGroup
	for i := 0; i < 4; i++ {
		inner.Add(1)
		go func(d time.Duration) {
			defer inner.Done()
			time.Sleep(d)
		}(time.Duration(i+1) * time.Millisecond)
	}
	inner.Wait()
}

var sink int

func spin(n int) {
	x := 0
	for i := 0; i < n; i++ {
		x += i * i
	}
	sink += x
}
