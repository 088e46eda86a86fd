// Command busy is a synthetic, deliberately noisy Go program used to produce
// large execution traces for benchmarking gotv (and Go's own trace reader).
//
// It writes a runtime/trace execution trace to OUT and keeps running a
// realistic mix of work until the trace file reaches the requested size:
//
//   - goroutine churn: millions of short-lived goroutines created over time,
//     with a few thousand alive at any moment;
//   - a population of long-lived goroutines that sleep, wait on timers and
//     channels, and contend on shared mutexes;
//   - unbuffered channel ping-pong pairs and fork/join (WaitGroup) rounds;
//   - mutex / RWMutex / sync.Cond contention;
//   - timers, tickers, time.AfterFunc and context deadlines;
//   - allocation-heavy goroutines with a retained live heap, so that GC
//     cycles, mark assists and STW phases show up;
//   - syscalls: netpoller-backed os.Pipe pairs, raw *blocking* pipes read
//     with syscall.Read (so Ps are handed off / stolen), small file I/O;
//   - loopback net/http server + clients (keep-alive and fresh connections);
//   - CPU-bound goroutines that get preempted;
//   - user annotations (tasks, regions, logs) and varied stack depths;
//   - a CPU profile running concurrently, so the trace has CPU samples;
//   - with -idle N, N goroutines blocked from before the trace starts to its
//     end, as a server's idle connections (restated in every generation).
//
// The runtime's trace data is copied into memory and written to the file in
// large chunks by a separate goroutine (see asyncWriter), and the size check
// counts bytes produced by the runtime rather than the file size.
//
// Usage:
//
//	busy [-size 300MB] [-procs 8] [-http=true] [-cpuprofile=true] [-idle 0] OUT [SIZE]
//
// SIZE accepts suffixes K/KB, M/MB, G/GB (binary units: 1MB = 1<<20 bytes);
// a bare number means MB. The size is checked every -poll interval; once it
// is reached the workload is told to stop, allowed ~100 ms to wind down, and
// the trace is stopped. The file overshoots the target by 1-10 MB: on this
// saturated program the runtime hands over trace data in bursts of several
// MB at each generation boundary (it can't release generation N+1's buffers
// until generation N is completely flushed, and that advance is slow with
// thousands of goroutines), plus the final flush.
//
// Only the standard library is used.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	flagSize     = flag.String("size", "300MB", "target trace size (e.g. 50MB, 300MB, 1GB; bare number = MB)")
	flagProcs    = flag.Int("procs", 8, "GOMAXPROCS to use (0 = leave runtime default)")
	flagHTTP     = flag.Bool("http", true, "run loopback net/http server and clients")
	flagPoll     = flag.Duration("poll", 50*time.Millisecond, "how often to check the trace file size")
	flagMaxTime  = flag.Duration("max-time", 2*time.Hour, "give up (but still finish the trace) after this long")
	flagChurnCap = flag.Int("churn-alive", 3000, "max short-lived goroutines alive at once")
	flagSleepers = flag.Int("sleepers", 2000, "number of long-lived sleeper goroutines")
	flagSeed     = flag.Uint64("seed", 1, "random seed")
	flagQuiet    = flag.Bool("q", false, "no progress output")
	flagCPUProf  = flag.Bool("cpuprofile", true, "run a CPU profile (to io.Discard) so the trace contains CPU samples")
	flagIdle     = flag.Int("idle", 0, "goroutines blocked from before tracing starts to the end, as a server's idle connections")
)

// Global counters (reported at the end).
var (
	spawned     atomic.Int64
	pingPongs   atomic.Int64
	httpReqs    atomic.Int64
	pipeBytes   atomic.Int64
	rawPipeMsgs atomic.Int64
	lockOps     atomic.Int64
	sink        atomic.Uint64 // defeats dead-code elimination
)

// stop is closed when the workload should wind down.
var stop = make(chan struct{})

// workers tracks the long-running workload goroutines, so that main can let
// them wind down before stopping the trace. (Stopping the trace while the
// program is saturated makes the final generation flush slow, and everything
// produced meanwhile lands in the file: the overshoot past the target size
// would then be tens of MB.)
var workers sync.WaitGroup

func launch(f func()) {
	workers.Add(1)
	go func() {
		defer workers.Done()
		f()
	}()
}

func stopped() bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := float64(1 << 20)
	for _, suf := range []struct {
		s string
		m float64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, suf.s) {
			s = strings.TrimSpace(strings.TrimSuffix(s, suf.s))
			mult = suf.m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * mult), nil
}

func newRand(id uint64) *rand.Rand {
	return rand.New(rand.NewPCG(*flagSeed, id*0x9E3779B97F4A7C15+1))
}

// ---------------------------------------------------------------------------
// Small pieces of "work" with distinct stacks.

//go:noinline
func spin(n int) uint64 {
	x := uint64(n) | 1
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

//go:noinline
func hashWork(r *rand.Rand, n int) {
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	s := sha256.Sum256(buf)
	sink.Add(uint64(s[0]))
}

//go:noinline
func allocWork(r *rand.Rand) {
	switch r.IntN(4) {
	case 0:
		m := make(map[int]string, 16)
		for i := 0; i < 32; i++ {
			m[r.IntN(1000)] = strconv.Itoa(i)
		}
		sink.Add(uint64(len(m)))
	case 1:
		s := make([]int, 256+r.IntN(2048))
		for i := range s {
			s[i] = r.IntN(1 << 20)
		}
		sort.Ints(s)
		sink.Add(uint64(s[len(s)/2]))
	case 2:
		var sb strings.Builder
		for i := 0; i < 50; i++ {
			sb.WriteString(strconv.Itoa(r.IntN(100000)))
			sb.WriteByte(',')
		}
		sink.Add(uint64(len(strings.Split(sb.String(), ","))))
	default:
		type rec struct {
			ID   int               `json:"id"`
			Name string            `json:"name"`
			Tags []string          `json:"tags"`
			Attr map[string]string `json:"attr"`
		}
		v := rec{ID: r.Int(), Name: "item-" + strconv.Itoa(r.IntN(1000)), Tags: []string{"a", "b", "c"}, Attr: map[string]string{"k": "v", "x": "y"}}
		b, _ := json.Marshal(v)
		var out rec
		_ = json.Unmarshal(b, &out)
		sink.Add(uint64(len(b)))
	}
}

// deep recurses to a random depth before calling f, producing a variety of
// stack depths and shapes in the trace.
//
//go:noinline
func deep(n int, f func()) {
	if n <= 0 {
		f()
		return
	}
	if n%3 == 0 {
		deepA(n-1, f)
	} else {
		deep(n-1, f)
	}
}

//go:noinline
func deepA(n int, f func()) {
	if n <= 0 {
		f()
		return
	}
	deepB(n-1, f)
}

//go:noinline
func deepB(n int, f func()) {
	if n <= 0 {
		f()
		return
	}
	deep(n-1, f)
}

// ---------------------------------------------------------------------------
// Shared contention points.

var (
	hotMu   [4]sync.Mutex
	hotVals [4]int64
	rwMu    sync.RWMutex
	rwMap   = map[int]int{}
	hub     = make(chan int, 64)
	condMu  sync.Mutex
	cond    = sync.NewCond(&condMu)
	condGen int64
)

func lockHot(r *rand.Rand) {
	i := r.IntN(len(hotMu))
	hotMu[i].Lock()
	hotVals[i] += int64(spin(50+r.IntN(200)) & 1)
	hotMu[i].Unlock()
	lockOps.Add(1)
}

// ---------------------------------------------------------------------------
// Workloads.

// churnSpawner creates short-lived goroutines forever, capping the number
// alive at once via sem.
func churnSpawner(id int, sem chan struct{}) {
	r := newRand(uint64(1000 + id))
	ctx := context.Background()
	for batch := 0; !stopped(); batch++ {
		var task *trace.Task
		if batch%64 == 0 {
			ctx, task = trace.NewTask(context.Background(), "churn-batch")
		}
		n := 16 + r.IntN(48)
		for i := 0; i < n; i++ {
			select {
			case sem <- struct{}{}:
			case <-stop:
				return
			}
			seed := r.Uint64()
			spawned.Add(1)
			go shortLived(ctx, seed, sem)
		}
		if task != nil {
			trace.Log(ctx, "spawned", strconv.Itoa(n))
			task.End()
			ctx = context.Background()
		}
		if r.IntN(4) == 0 {
			runtime.Gosched()
		}
	}
}

func shortLived(ctx context.Context, seed uint64, sem chan struct{}) {
	defer func() { <-sem }()
	r := newRand(seed)
	work := func() {
		switch r.IntN(8) {
		case 0, 1:
			sink.Add(spin(100 + r.IntN(2000)))
		case 2:
			allocWork(r)
		case 3:
			time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
		case 4:
			lockHot(r)
		case 5:
			select {
			case hub <- r.IntN(100):
			case <-time.After(time.Millisecond):
			}
		case 6:
			hashWork(r, 256+r.IntN(4096))
		default:
			rwMu.RLock()
			sink.Add(uint64(rwMap[r.IntN(64)]))
			rwMu.RUnlock()
		}
	}
	if r.IntN(32) == 0 {
		trace.WithRegion(ctx, "short-lived", func() { deep(r.IntN(24), work) })
	} else {
		deep(r.IntN(12), work)
	}
}

// hubDrain consumes the hub channel.
func hubDrain() {
	for {
		select {
		case v := <-hub:
			sink.Add(uint64(v))
		case <-stop:
			return
		}
	}
}

// sleeper is a long-lived goroutine that mostly sleeps/waits.
func sleeper(id int) {
	r := newRand(uint64(5000 + id))
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	for !stopped() {
		d := time.Duration(1+r.IntN(100)) * time.Millisecond
		switch r.IntN(6) {
		case 0:
			time.Sleep(d)
		case 1:
			tm.Reset(d)
			select {
			case <-tm.C:
			case <-stop:
				return
			}
		case 2:
			ctx, cancel := context.WithTimeout(context.Background(), d)
			select {
			case <-ctx.Done():
			case v := <-hub:
				sink.Add(uint64(v))
			}
			cancel()
		case 3:
			deep(r.IntN(20), func() { time.Sleep(d) })
		case 4:
			// Wait for the next broadcast (a few per second).
			condMu.Lock()
			g := condGen
			for condGen == g && !stopped() {
				cond.Wait()
			}
			condMu.Unlock()
		default:
			time.Sleep(d / 4)
			lockHot(r)
		}
		if r.IntN(8) == 0 {
			allocWork(r)
		}
	}
}

func condBroadcaster() {
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-stop:
			condMu.Lock()
			condGen++
			condMu.Unlock()
			cond.Broadcast()
			return
		}
		condMu.Lock()
		condGen++
		condMu.Unlock()
		cond.Broadcast()
	}
}

// pingPong runs an unbuffered channel exchange between two goroutines in bursts.
func pingPong(id int) {
	r := newRand(uint64(9000 + id))
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	for !stopped() {
		burst := 20 + r.IntN(200)
		v := 0
		for i := 0; i < burst; i++ {
			ping <- v
			v = <-pong
		}
		pingPongs.Add(int64(burst))
		time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
	}
	close(ping)
}

// forkJoin runs fork/join rounds with a WaitGroup.
func forkJoin(id int) {
	r := newRand(uint64(12000 + id))
	for !stopped() {
		n := 4 + r.IntN(28)
		var wg sync.WaitGroup
		results := make([]uint64, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			spawned.Add(1)
			go func(i int, seed uint64) {
				defer wg.Done()
				rr := newRand(seed)
				results[i] = spin(500 + rr.IntN(5000))
				if rr.IntN(4) == 0 {
					lockHot(rr)
				}
			}(i, r.Uint64())
		}
		wg.Wait()
		var x uint64
		for _, v := range results {
			x ^= v
		}
		sink.Add(x)
		time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
	}
}

// contender hammers a couple of mutexes and the RWMutex.
func contender(id int) {
	r := newRand(uint64(15000 + id))
	for !stopped() {
		for i := 0; i < 50; i++ {
			if r.IntN(10) == 0 {
				rwMu.Lock()
				rwMap[r.IntN(64)] = r.Int()
				rwMu.Unlock()
			} else {
				lockHot(r)
			}
		}
		time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
	}
}

// timerUser exercises tickers and AfterFunc.
func timerUser(id int) {
	r := newRand(uint64(17000 + id))
	t := time.NewTicker(time.Duration(1+r.IntN(4)) * time.Millisecond)
	defer t.Stop()
	var fired atomic.Int64
	for !stopped() {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		if r.IntN(4) == 0 {
			time.AfterFunc(time.Duration(r.IntN(1000))*time.Microsecond, func() {
				fired.Add(1)
				sink.Add(spin(100))
			})
		}
	}
}

// allocator produces garbage and keeps a sizeable live heap around, so the
// GC has real marking work to do (and allocating goroutines get assists).
func allocator(id int, retainMB int) {
	r := newRand(uint64(19000 + id))
	const chunk = 64 << 10
	ring := make([][]byte, retainMB<<20/chunk)
	ptrs := make([]*node, 4096)
	for i := 0; !stopped(); i++ {
		b := make([]byte, 1024+r.IntN(chunk))
		b[0] = byte(i)
		ring[i%len(ring)] = b
		// Pointer-rich garbage.
		var head *node
		for j := 0; j < 64; j++ {
			head = &node{next: head, val: j}
		}
		ptrs[r.IntN(len(ptrs))] = head
		if i%64 == 0 {
			allocWork(r)
		}
		if i%256 == 0 {
			time.Sleep(time.Duration(r.IntN(1000)) * time.Microsecond)
		}
	}
}

type node struct {
	next *node
	val  int
	pad  [4]int
}

// cpuHog runs long non-blocking loops so it gets preempted.
func cpuHog(id int) {
	x := uint64(id)
	for !stopped() {
		x += spin(2_000_000)
		sink.Add(x)
		time.Sleep(5 * time.Millisecond)
	}
}

// pipePair moves bytes through an os.Pipe (non-blocking, netpoller-backed).
func pipePair(id int) {
	pr, pw, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipe:", err)
		return
	}
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := pr.Read(buf)
			pipeBytes.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	r := newRand(uint64(21000 + id))
	buf := make([]byte, 16384)
	for !stopped() {
		n := 1 + r.IntN(len(buf))
		if _, err := pw.Write(buf[:n]); err != nil {
			break
		}
		if r.IntN(8) == 0 {
			time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
		}
	}
	pw.Close()
}

// rawPipe uses raw blocking fds and syscall.Read/Write directly, so the
// goroutines block inside syscalls (Ps get handed off / stolen).
func rawPipe(id int) {
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		fmt.Fprintln(os.Stderr, "raw pipe:", err)
		return
	}
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := syscall.Read(fds[0], buf)
			if n <= 0 || err != nil {
				syscall.Close(fds[0])
				return
			}
			rawPipeMsgs.Add(1)
		}
	}()
	r := newRand(uint64(23000 + id))
	msg := make([]byte, 64)
	for !stopped() {
		// Sleep so the reader sits in a blocking read() long enough for
		// sysmon to retake its P.
		time.Sleep(time.Duration(100+r.IntN(3000)) * time.Microsecond)
		if _, err := syscall.Write(fds[1], msg[:1+r.IntN(len(msg))]); err != nil {
			break
		}
	}
	syscall.Close(fds[1])
}

// fileIO does small real file syscalls.
func fileIO(id int) {
	r := newRand(uint64(25000 + id))
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer devnull.Close()
	buf := make([]byte, 4096)
	for !stopped() {
		switch r.IntN(3) {
		case 0:
			b, _ := os.ReadFile("/proc/self/stat")
			sink.Add(uint64(len(b)))
		case 1:
			devnull.Write(buf[:1+r.IntN(len(buf))])
		default:
			fi, _ := os.Stat(os.Args[0])
			if fi != nil {
				sink.Add(uint64(fi.Size()))
			}
		}
		time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
	}
}

// ---------------------------------------------------------------------------
// Loopback HTTP.

func startHTTP(nClients int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/work", func(w http.ResponseWriter, req *http.Request) {
		ctx, task := trace.NewTask(req.Context(), "http-work")
		defer task.End()
		n, _ := strconv.Atoi(req.URL.Query().Get("n"))
		r := newRand(uint64(n) + 31)
		var out []int
		trace.WithRegion(ctx, "compute", func() {
			for i := 0; i < 16+n%64; i++ {
				out = append(out, int(spin(100+r.IntN(500))&0xffff))
			}
		})
		if n%5 == 0 {
			trace.WithRegion(ctx, "lock", func() { lockHot(r) })
		}
		if n%7 == 0 {
			time.Sleep(time.Duration(r.IntN(1000)) * time.Microsecond)
		}
		trace.Logf(ctx, "http", "n=%d items=%d", n, len(out))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"n": n, "out": out})
	})
	srv := &http.Server{Handler: mux, ErrorLog: nil}
	go srv.Serve(ln)
	url := "http://" + ln.Addr().String() + "/work?n="
	for c := 0; c < nClients; c++ {
		keepAlive := c%4 != 0
		go func(c int) {
			tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 4}
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			r := newRand(uint64(27000 + c))
			for !stopped() {
				resp, err := client.Get(url + strconv.Itoa(r.IntN(1000)))
				if err == nil {
					io.Copy(io.Discard, bufio.NewReader(resp.Body))
					resp.Body.Close()
					httpReqs.Add(1)
				} else if !errors.Is(err, context.Canceled) {
					time.Sleep(10 * time.Millisecond)
				}
				time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
			}
			tr.CloseIdleConnections()
		}(c)
	}
}

// ---------------------------------------------------------------------------
// Trace output.

// asyncWriter is what runtime/trace writes to. Write only copies into memory
// (it never makes a syscall), so the runtime's trace-reader goroutine never
// leaves its P and keeps up with event production; a separate goroutine
// writes big chunks to the file. Writing the file directly from the trace
// reader makes it fall behind on a saturated program (every write syscall
// sends it to the back of a run queue with thousands of goroutines), so
// tens of MB pile up inside the runtime and the file size lags far behind
// what has actually been traced. n counts bytes handed to us by the runtime
// and is what the size check uses.
type asyncWriter struct {
	n     atomic.Int64
	cur   []byte
	ch    chan []byte
	done  chan error
	chunk int
}

func newAsyncWriter(f *os.File) *asyncWriter {
	w := &asyncWriter{ch: make(chan []byte, 256), done: make(chan error, 1), chunk: 4 << 20}
	go func() {
		var err error
		for b := range w.ch {
			if err == nil {
				_, err = f.Write(b)
			}
		}
		w.done <- err
	}()
	return w
}

// Write is only called from the runtime/trace goroutine.
func (w *asyncWriter) Write(p []byte) (int, error) {
	if w.cur == nil {
		w.cur = make([]byte, 0, w.chunk)
	}
	w.cur = append(w.cur, p...)
	if len(w.cur) >= w.chunk {
		w.ch <- w.cur
		w.cur = nil
	}
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// Close flushes and waits for the file writer; call after trace.Stop.
func (w *asyncWriter) Close() error {
	if len(w.cur) > 0 {
		w.ch <- w.cur
		w.cur = nil
	}
	close(w.ch)
	return <-w.done
}

// ---------------------------------------------------------------------------

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [flags] OUT [SIZE]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) < 1 || len(args) > 2 {
		flag.Usage()
		os.Exit(2)
	}
	out := args[0]
	sizeStr := *flagSize
	if len(args) == 2 {
		sizeStr = args[1]
	}
	target, err := parseSize(sizeStr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *flagProcs > 0 {
		runtime.GOMAXPROCS(*flagProcs)
	}

	f, err := os.Create(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Idle goroutines exist before the trace starts, as on a server that
	// has been up for a while: the runtime restates each of them in every
	// generation, and nothing else happens to them.
	idle := make(chan struct{})
	for i := 0; i < *flagIdle; i++ {
		go func() { <-idle }()
	}
	tw := newAsyncWriter(f)
	if err := trace.Start(tw); err != nil {
		fmt.Fprintln(os.Stderr, "trace.Start:", err)
		os.Exit(1)
	}
	if *flagCPUProf {
		if err := pprof.StartCPUProfile(io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, "cpu profile:", err)
		}
	}
	start := time.Now()

	// Launch the workload.
	sem := make(chan struct{}, *flagChurnCap)
	for i := 0; i < 4; i++ {
		launch(func() { churnSpawner(i, sem) })
	}
	for i := 0; i < 2; i++ {
		launch(func() { hubDrain() })
	}
	for i := 0; i < *flagSleepers; i++ {
		launch(func() { sleeper(i) })
	}
	launch(func() { condBroadcaster() })
	for i := 0; i < 16; i++ {
		launch(func() { pingPong(i) })
	}
	for i := 0; i < 4; i++ {
		launch(func() { forkJoin(i) })
	}
	for i := 0; i < 12; i++ {
		launch(func() { contender(i) })
	}
	for i := 0; i < 8; i++ {
		launch(func() { timerUser(i) })
	}
	for i := 0; i < 3; i++ {
		launch(func() { allocator(i, 32) })
	}
	for i := 0; i < 2; i++ {
		launch(func() { cpuHog(i) })
	}
	for i := 0; i < 4; i++ {
		launch(func() { pipePair(i) })
	}
	for i := 0; i < 4; i++ {
		launch(func() { rawPipe(i) })
	}
	for i := 0; i < 2; i++ {
		launch(func() { fileIO(i) })
	}
	if *flagHTTP {
		startHTTP(8)
	}

	// Watch the trace size.
	tick := time.NewTicker(*flagPoll)
	lastReport := start
	var size int64
	for range tick.C {
		size = tw.n.Load()
		if size >= target || time.Since(start) > *flagMaxTime {
			break
		}
		if !*flagQuiet && time.Since(lastReport) >= 5*time.Second {
			lastReport = time.Now()
			el := time.Since(start).Seconds()
			fmt.Fprintf(os.Stderr, "busy: %6.1fs  %7.1f MiB (%.1f MiB/s)  goroutines alive=%d spawned=%d\n",
				el, float64(size)/(1<<20), float64(size)/(1<<20)/el, runtime.NumGoroutine(), spawned.Load())
		}
	}
	tick.Stop()
	alive := runtime.NumGoroutine()
	sizeAtStop := size
	close(stop)
	// Quiesce: let the workload goroutines and in-flight short-lived
	// goroutines finish (bounded), then stop tracing.
	quiesceStart := time.Now()
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		fmt.Fprintln(os.Stderr, "busy: workers did not finish within 5s; stopping trace anyway")
	}
	for len(sem) > 0 && time.Since(quiesceStart) < 6*time.Second {
		time.Sleep(time.Millisecond)
	}
	quiesce := time.Since(quiesceStart)
	sizeAfterQuiesce := tw.n.Load()
	trace.Stop()
	if *flagCPUProf {
		pprof.StopCPUProfile()
	}
	elapsed := time.Since(start)
	if err := tw.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		os.Exit(1)
	}
	fi, _ := os.Stat(out)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "busy: done in %.1fs: trace %s = %d bytes (%.1f MiB, target %.1f MiB); GOMAXPROCS=%d\n",
		elapsed.Seconds(), out, fi.Size(), float64(fi.Size())/(1<<20), float64(target)/(1<<20), runtime.GOMAXPROCS(0))
	fmt.Fprintf(os.Stderr, "busy: traced bytes at last poll %.1f MiB, after %.0f ms quiesce %.1f MiB; overshoot %.1f MiB\n",
		float64(sizeAtStop)/(1<<20), quiesce.Seconds()*1000, float64(sizeAfterQuiesce)/(1<<20), float64(fi.Size()-target)/(1<<20))
	fmt.Fprintf(os.Stderr, "busy: goroutines spawned=%d alive-at-stop=%d pingpongs=%d lockops=%d http=%d pipeMiB=%.1f rawpipe=%d numGC=%d\n",
		spawned.Load(), alive, pingPongs.Load(), lockOps.Load(), httpReqs.Load(), float64(pipeBytes.Load())/(1<<20), rawPipeMsgs.Load(), ms.NumGC)
	os.Exit(0)
}
