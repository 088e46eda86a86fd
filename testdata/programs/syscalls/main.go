// Program syscalls exercises system calls and file I/O: os.Pipe (polled),
// a raw blocking pipe read, temp-file writes/fsync/reads, directory reads,
// and a goroutine locked to its OS thread.
//
// Well-known goroutines:
//   - main.blockingSyscallReader blocks inside a read(2) system call on a
//     raw (blocking) pipe for ~30 ms.
//   - main.pipeReader blocks reading an os.Pipe (network poller) for ~15 ms.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: syscalls OUT.trace")
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

	// 1. A goroutine blocked in a read(2) syscall on a blocking pipe.
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		panic(err)
	}
	wg.Add(1)
	go blockingSyscallReader(p[0], &wg)
	time.Sleep(30 * time.Millisecond)
	syscall.Write(p[1], []byte("wake up"))
	wg.Wait()
	syscall.Close(p[0])
	syscall.Close(p[1])

	// 2. os.Pipe: reads go through the network poller.
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	wg.Add(1)
	go pipeReader(r, &wg)
	time.Sleep(15 * time.Millisecond)
	for i := 0; i < 300; i++ {
		fmt.Fprintf(w, "message %d\n", i)
		if i%50 == 49 {
			time.Sleep(time.Millisecond)
		}
	}
	w.Close()
	wg.Wait()
	r.Close()

	// 3. Temp-file I/O.
	dir, err := os.MkdirTemp("", "gotv-syscalls-")
	if err != nil {
		panic(err)
	}
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go fileWorker(dir, i, &wg)
	}
	wg.Wait()
	entries, err := os.ReadDir(dir)
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		os.Stat(filepath.Join(dir, e.Name()))
	}
	os.RemoveAll(dir)

	// 4. Fast syscalls on a locked OS thread.
	wg.Add(1)
	go lockedThread(&wg)
	wg.Wait()
}

// blockingSyscallReader blocks in read(2) for ~30 ms.
func blockingSyscallReader(fd int, wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, 64)
	syscall.Read(fd, buf)
}

// pipeReader reads an os.Pipe until EOF, blocking in the poller first.
func pipeReader(r *os.File, wg *sync.WaitGroup) {
	defer wg.Done()
	io.Copy(io.Discard, r)
}

func fileWorker(dir string, id int, wg *sync.WaitGroup) {
	defer wg.Done()
	name := filepath.Join(dir, fmt.Sprintf("f%d", id))
	f, err := os.Create(name)
	if err != nil {
		panic(err)
	}
	chunk := make([]byte, 4<<10)
	for i := range chunk {
		chunk[i] = byte(i * (id + 1))
	}
	for i := 0; i < 128; i++ {
		if _, err := f.Write(chunk); err != nil {
			panic(err)
		}
	}
	f.Sync()
	f.Close()
	data, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	_ = data
}

func lockedThread(wg *sync.WaitGroup) {
	defer wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < 1000; i++ {
		syscall.Getpid()
		syscall.Getppid()
	}
	time.Sleep(2 * time.Millisecond)
}
