// Command gotvbench benchmarks Go's own execution-trace parser
// (internal/trace) so gotv's reader can be compared against it.
//
// internal/trace cannot be imported from outside GOROOT, so this file is
// copied to $GOROOT/src/cmd/gotvbench/main.go and built there (it then
// belongs to the "cmd" module, which is allowed to import std internals):
//
//	cd $GOROOT/src/cmd/gotvbench && go build -o /tmp/gotvbench .
//
// scripts/bench-go-reader.sh does all of that.
//
// Usage:
//
//	gotvbench [-mode count|keep] [-max-rss-gb 20] TRACE [count|keep]
//
// Modes:
//
//	count  read every event with trace.NewReader, touch each event's stack
//	       (iterate all frames, reading Func/File strings) and resolve the
//	       strings the event carries (state-transition reason, metric/label/
//	       range/task/region/log strings, experimental string args).
//	keep   the same, but additionally retain every trace.Event in one slice
//	       until the end, to measure the memory cost of holding everything.
//
// Output: a human summary on stdout, plus one machine-readable line starting
// with "RESULT " (key=value pairs). Sizes use binary units (MiB = 1<<20).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"internal/trace"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

var (
	flagMode     = flag.String("mode", "count", "count or keep")
	flagMaxRSSGB = flag.Float64("max-rss-gb", 20, "abort (exit 3) if resident set size exceeds this many GiB; 0 disables")
	flagProgress = flag.Duration("progress", 10*time.Second, "progress report interval on stderr (0 disables)")
	flagBufSize  = flag.Int("buf", 1<<20, "bufio.Reader size in bytes")
)

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readRSS returns (VmRSS, VmHWM) in bytes from /proc/self/status.
func readRSS() (rss, hwm int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			*dst = v << 10
		}
	}
	return rss, hwm
}

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [flags] TRACE [count|keep]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) < 1 || len(args) > 2 {
		flag.Usage()
		os.Exit(2)
	}
	path := args[0]
	mode := *flagMode
	if len(args) == 2 {
		mode = args[1]
	}
	if mode != "count" && mode != "keep" {
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
		os.Exit(2)
	}

	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	size := fi.Size()

	// RSS watchdog.
	if *flagMaxRSSGB > 0 {
		limit := int64(*flagMaxRSSGB * (1 << 30))
		go func() {
			for {
				time.Sleep(200 * time.Millisecond)
				if rss, _ := readRSS(); rss > limit {
					fmt.Fprintf(os.Stderr, "gotvbench: RSS %.2f GiB exceeds limit %.2f GiB; aborting\n",
						float64(rss)/(1<<30), float64(limit)/(1<<30))
					fmt.Printf("RESULT status=aborted-rss mode=%s rss_bytes=%d\n", mode, rss)
					os.Exit(3)
				}
			}
		}()
	}

	start := time.Now()
	cr := &countingReader{r: f}
	r, err := trace.NewReader(bufio.NewReaderSize(cr, *flagBufSize))
	if err != nil {
		fmt.Fprintln(os.Stderr, "NewReader:", err)
		os.Exit(1)
	}

	var (
		events      int64
		syncs       int64
		perKind     [64]int64 // indexed by trace.EventKind
		withStack   int64
		frames      int64
		strBytes    int64 // total length of resolved strings (keeps work observable)
		kept        []trace.Event
		lastReport  = start
		firstTs     trace.Time
		lastTs      trace.Time
		goCreates   int64
		maxGoID     trace.GoID
		maxProcID   trace.ProcID
		maxStackLen int
	)
	touchStack := func(s trace.Stack) {
		if s == trace.NoStack {
			return
		}
		n := 0
		for fr := range s.Frames() {
			n++
			strBytes += int64(len(fr.Func) + len(fr.File))
			strBytes += int64(fr.Line & 1)
		}
		frames += int64(n)
		if n > maxStackLen {
			maxStackLen = n
		}
	}
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "ReadEvent after %d events (%d bytes read): %v\n", events, cr.n, err)
			os.Exit(1)
		}
		events++
		k := ev.Kind()
		perKind[k&63]++
		if events == 1 {
			firstTs = ev.Time()
		}
		lastTs = ev.Time()

		st := ev.Stack()
		if st != trace.NoStack {
			withStack++
			touchStack(st)
		}
		if g := ev.Goroutine(); g > maxGoID {
			maxGoID = g
		}
		if p := ev.Proc(); p > maxProcID {
			maxProcID = p
		}

		switch k {
		case trace.EventSync:
			syncs++
		case trace.EventMetric:
			m := ev.Metric()
			strBytes += int64(len(m.Name))
		case trace.EventLabel:
			l := ev.Label()
			strBytes += int64(len(l.Label))
		case trace.EventRangeBegin, trace.EventRangeActive, trace.EventRangeEnd:
			rg := ev.Range()
			strBytes += int64(len(rg.Name))
			if k == trace.EventRangeEnd {
				for _, a := range ev.RangeAttributes() {
					strBytes += int64(len(a.Name))
				}
			}
		case trace.EventTaskBegin, trace.EventTaskEnd:
			strBytes += int64(len(ev.Task().Type))
		case trace.EventRegionBegin, trace.EventRegionEnd:
			strBytes += int64(len(ev.Region().Type))
		case trace.EventLog:
			l := ev.Log()
			strBytes += int64(len(l.Category) + len(l.Message))
		case trace.EventStateTransition:
			s := ev.StateTransition()
			strBytes += int64(len(s.Reason))
			touchStack(s.Stack)
			if s.Resource.Kind == trace.ResourceGoroutine {
				from, _ := s.Goroutine()
				if from == trace.GoNotExist {
					goCreates++
				}
			}
		case trace.EventExperimental:
			x := ev.Experimental()
			for i, a := range x.Args {
				if strings.HasSuffix(a, "string") {
					strBytes += int64(len(x.ArgValue(i).String()))
				}
			}
		}

		if mode == "keep" {
			kept = append(kept, ev)
		}

		if *flagProgress > 0 && events&0xffff == 0 && time.Since(lastReport) >= *flagProgress {
			lastReport = time.Now()
			el := time.Since(start).Seconds()
			rss, _ := readRSS()
			fmt.Fprintf(os.Stderr, "gotvbench: %6.1fs %12d events  %7.1f/%7.1f MiB read (%.1f MiB/s)  RSS %.2f GiB\n",
				el, events, float64(cr.n)/(1<<20), float64(size)/(1<<20), float64(cr.n)/(1<<20)/el, float64(rss)/(1<<30))
		}
	}
	elapsed := time.Since(start).Seconds()

	_, hwm := readRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mib := float64(size) / (1 << 20)

	fmt.Printf("trace:        %s (%d bytes, %.1f MiB)\n", path, size, mib)
	fmt.Printf("mode:         %s  (GOMAXPROCS=%d, %s)\n", mode, runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Printf("events:       %d\n", events)
	fmt.Printf("syncs:        %d  (generations = %d; one final Sync is emitted at end of stream)\n", syncs, syncs-1)
	fmt.Printf("elapsed:      %.3f s\n", elapsed)
	fmt.Printf("throughput:   %.1f MiB/s, %.2f Mevents/s\n", mib/elapsed, float64(events)/elapsed/1e6)
	fmt.Printf("span:         %.3f s of traced time\n", float64(lastTs-firstTs)/1e9)
	fmt.Printf("resources:    %d goroutines created in trace, max goroutine ID %d, max proc ID %d\n", goCreates, maxGoID, maxProcID)
	fmt.Printf("stacks:       %d events with stack, %d frames touched, max depth %d, %d string bytes resolved\n", withStack, frames, maxStackLen, strBytes)
	type kc struct {
		k trace.EventKind
		n int64
	}
	var kcs []kc
	for k, n := range perKind {
		if n > 0 {
			kcs = append(kcs, kc{trace.EventKind(k), n})
		}
	}
	sort.Slice(kcs, func(i, j int) bool { return kcs[i].n > kcs[j].n })
	fmt.Printf("kinds:       ")
	for _, x := range kcs {
		fmt.Printf(" %s=%d", x.k, x.n)
	}
	fmt.Println()
	fmt.Printf("memory:       peak RSS (VmHWM) %.1f MiB, Go heap in use %.1f MiB, Go sys %.1f MiB, NumGC %d\n",
		float64(hwm)/(1<<20), float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20), ms.NumGC)
	if mode == "keep" {
		fmt.Printf("kept:         %d events, sizeof(trace.Event)=%d bytes, slice cap %d (%.1f MiB backing array)\n",
			len(kept), unsafe.Sizeof(trace.Event{}), cap(kept), float64(cap(kept))*float64(unsafe.Sizeof(trace.Event{}))/(1<<20))
	}
	fmt.Printf("RESULT status=ok mode=%s bytes=%d events=%d syncs=%d generations=%d elapsed_s=%.3f mib_per_s=%.2f vmhwm_bytes=%d heap_inuse_bytes=%d go_created=%d\n",
		mode, size, events, syncs, syncs-1, elapsed, mib/elapsed, hwm, ms.HeapInuse, goCreates)
	runtime.KeepAlive(kept)
}
