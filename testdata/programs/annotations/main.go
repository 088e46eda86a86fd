// Program annotations exercises user annotations: trace.NewTask (nested
// tasks, a task ended on another goroutine), trace.WithRegion,
// nested trace.StartRegion, trace.Log and trace.Logf, and a region without a
// task.
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
		fmt.Fprintln(os.Stderr, "usage: annotations OUT.trace")
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

	// A region without any task.
	trace.WithRegion(ctx, "untasked", func() {
		trace.Log(ctx, "", "log without task or category")
		time.Sleep(time.Millisecond)
	})

	ctx, task := trace.NewTask(ctx, "request")
	trace.Log(ctx, "phase", "start")

	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go handle(ctx, i, &wg)
	}
	wg.Wait()

	// A task started here and ended on another goroutine.
	ctx2, task2 := trace.NewTask(ctx, "handoff")
	done := make(chan struct{})
	go func() {
		trace.WithRegion(ctx2, "finishing", func() {
			trace.Logf(ctx2, "handoff", "ending task on goroutine %s", "other")
		})
		task2.End()
		close(done)
	}()
	<-done

	// Names with non-ASCII characters and a long log message.
	ctx3, task3 := trace.NewTask(ctx, "tâche/タスク")
	trace.WithRegion(ctx3, "régión ✓", func() {
		trace.Log(ctx3, "unicode", "héllo, 世界")
		msg := make([]byte, 300)
		for i := range msg {
			msg[i] = 'a' + byte(i%26)
		}
		trace.Log(ctx3, "long", string(msg))
	})
	task3.End()

	trace.Log(ctx, "phase", "end")
	task.End()
}

func handle(ctx context.Context, id int, wg *sync.WaitGroup) {
	defer wg.Done()
	ctx, task := trace.NewTask(ctx, "subrequest")
	defer task.End()
	trace.Logf(ctx, "id", "handler %d", id)
	trace.WithRegion(ctx, "outer", func() {
		for step := 0; step < 10; step++ {
			r := trace.StartRegion(ctx, "inner")
			trace.Logf(ctx, "step", "%d/%d", id, step)
			r2 := trace.StartRegion(ctx, "innermost")
			time.Sleep(time.Duration(100+50*id) * time.Microsecond)
			r2.End()
			r.End()
		}
	})
}
