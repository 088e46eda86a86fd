// Program cgocallback exercises cgo: Go called back from threads that C
// created (each such thread gets an extra M and a goroutine that is born
// and dies in a system call: GoCreateSyscall/GoDestroySyscall in v2
// traces), and Go called back from C on a Go thread, inside a cgo call.
//
// Needs a C compiler (cgo); scripts/gen-testdata.sh builds it like the
// others.
//
// Well-known goroutines:
//   - the goroutines of the C threads start in runtime.cgocallback; each
//     runs main.fromC five times, blocking in time.Sleep (~1 ms) and on a
//     contended sync.Mutex, between ~2 ms usleep(3) calls in C (syscall).
//   - main.viaC calls C, which calls main.fromC back three times.
package main

/*
#include <pthread.h>
#include <unistd.h>

extern void fromC(int);

static void* cThread(void* arg) {
	for (int i = 0; i < 5; i++) {
		fromC((int)(long)arg);
		usleep(2000);
	}
	return 0;
}

// Starts n threads that call Go, and waits for them to exit.
static void runCThreads(int n) {
	pthread_t t[8];
	if (n > 8) n = 8;
	for (int i = 0; i < n; i++) pthread_create(&t[i], 0, cThread, (void*)(long)i);
	for (int i = 0; i < n; i++) pthread_join(t[i], 0);
}

// Calls Go back from a thread Go made.
static void callBack(int times) {
	for (int i = 0; i < times; i++) {
		fromC(100 + i);
		usleep(1000);
	}
}
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"time"

	"gotvtestdata/internal/traceout"
)

var (
	mu    sync.Mutex
	calls = map[int]int{}
)

//export fromC
func fromC(who C.int) {
	mu.Lock()
	calls[int(who)]++
	// Hold the lock a little, so callers from other threads wait for it.
	time.Sleep(300 * time.Microsecond)
	mu.Unlock()
	time.Sleep(time.Millisecond)
}

func viaC(done chan<- struct{}) {
	C.callBack(3)
	done <- struct{}{}
}

func main() {
	traceout.Run("cgocallback", func() {
		done := make(chan struct{})
		go viaC(done)
		C.runCThreads(3)
		<-done
	})
	total := 0
	for _, n := range calls {
		total += n
	}
	if total != 3*5+3 {
		fmt.Fprintln(os.Stderr, "callbacks:", total)
		os.Exit(1)
	}
}
