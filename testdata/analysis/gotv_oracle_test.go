// Oracle for gotv's timeline analysis (crates/timeline/tests/analysis.rs).
//
// Not built in place: gen-oracle.sh copies it into a scratch copy of
// GOROOT's src/cmd/trace (package main there, so it can use cmd/trace's
// profile functions and internal/trace's MMU) and runs it with `go test`.
// It prints, for each trace named on the command line, the minimum mutator
// utilisation and the worst windows for several flag sets and window sizes,
// and the net, sync, syscall and sched blocking profiles; and for the
// traces named by -gotv.tasks, the user task and region types as
// cmd/trace's "User-defined tasks" and "User-defined regions" pages count
// them.

package main

import (
	"flag"
	"fmt"
	"internal/trace"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	gotvTraces = flag.String("gotv.traces", "", "comma-separated trace paths relative to -gotv.root")
	gotvRoot   = flag.String("gotv.root", "", "directory the trace paths are relative to")
	gotvMMU    = flag.String("gotv.mmu", "", "comma-separated traces (subset of -gotv.traces) to print MMU for")
	gotvTasks  = flag.String("gotv.tasks", "", "comma-separated traces to print only task and region summaries for")
	gotvOut    = flag.String("gotv.out", "", "output file")
	gotvUtil   = flag.String("gotv.utildir", "", "if set, also write each utilisation series there (for debugging)")
)

var gotvFlagSets = []struct {
	name  string
	flags trace.UtilFlags
}{
	{"stw", trace.UtilSTW},
	{"stw|background|assist|sweep", trace.UtilSTW | trace.UtilBackground | trace.UtilAssist | trace.UtilSweep},
	{"stw|background|assist|sweep|perProc", trace.UtilSTW | trace.UtilBackground | trace.UtilAssist | trace.UtilSweep | trace.UtilPerProc},
	{"assist|sweep", trace.UtilAssist | trace.UtilSweep},
}

var gotvWindows = []time.Duration{
	time.Microsecond, 10 * time.Microsecond, 100 * time.Microsecond,
	time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second,
}

func TestGotvOracle(t *testing.T) {
	if *gotvTraces == "" {
		t.Skip("run through testdata/analysis/gen-oracle.sh")
	}
	mmuWanted := map[string]bool{}
	for _, name := range strings.Split(*gotvMMU, ",") {
		mmuWanted[name] = true
	}
	var out strings.Builder
	parse := func(name string) *parsedTrace {
		f, err := os.Open(filepath.Join(*gotvRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parseTrace(f, 0)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return parsed
	}
	for _, name := range strings.Split(*gotvTraces, ",") {
		parsed := parse(name)
		if mmuWanted[name] {
			gotvPrintMMU(&out, name, parsed.events)
		}
		gotvPrintProfiles(&out, name, parsed.events)
	}
	if *gotvTasks != "" {
		for _, name := range strings.Split(*gotvTasks, ",") {
			gotvPrintTasks(&out, name, parse(name))
		}
	}
	if err := os.WriteFile(*gotvOut, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func gotvPrintMMU(out *strings.Builder, name string, events []trace.Event) {
	for _, fs := range gotvFlagSets {
		util := trace.MutatorUtilizationV2(events, fs.flags)
		if *gotvUtil != "" {
			var b strings.Builder
			for i, series := range util {
				for _, u := range series {
					fmt.Fprintf(&b, "%d %d %.9f\n", i, u.Time, u.Util)
				}
			}
			file := strings.NewReplacer("/", "_", "|", "+").Replace(name + "." + fs.name + ".util")
			os.WriteFile(filepath.Join(*gotvUtil, file), []byte(b.String()), 0o644)
		}
		curve := trace.NewMMUCurve(util)
		for _, w := range gotvWindows {
			fmt.Fprintf(out, "mmu %s %s %d %.9f\n", name, fs.name, int64(w), curve.MMU(w))
		}
	}
}

func gotvPrintProfiles(out *strings.Builder, name string, events []trace.Event) {
	kinds := []struct {
		name    string
		compute computePprofFunc
	}{
		{"net", computePprofIO()},
		{"sync", computePprofBlock()},
		{"syscall", computePprofSyscall()},
		{"sched", computePprofSched()},
	}
	for _, k := range kinds {
		recs, err := k.compute(nil, events)
		if err != nil {
			panic(err)
		}
		type total struct {
			count int64
			ns    int64
		}
		byStack := map[string]*total{}
		for _, r := range recs {
			var frames []string
			for i := len(r.Stack) - 1; i >= 0; i-- {
				frames = append(frames, fmt.Sprintf("%s:%d", r.Stack[i].Func, r.Stack[i].Line))
			}
			key := strings.Join(frames, ";")
			if byStack[key] == nil {
				byStack[key] = &total{}
			}
			byStack[key].count += int64(r.Count)
			byStack[key].ns += int64(r.Time)
		}
		keys := make([]string, 0, len(byStack))
		for key := range byStack {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			fmt.Fprintf(out, "pprof %s %s %d %d %s\n", name, k.name, byStack[key].count, byStack[key].ns, key)
		}
	}
}

// gotvPrintTasks prints, per task type, "task TRACE COUNT COMPLETE SUM_NS
// MIN_NS MAX_NS TYPE" (durations of the complete tasks only, as the tasks
// page's histogram takes them), and per region type "region TRACE COUNT
// SUM_NS MIN_NS MAX_NS TYPE" (every region, a missing end or start taken
// at the trace's end or start, as the regions page does; grouped by type
// only: gotvPrintRegionSites splits them as that page does). The type
// comes last because it may hold spaces; types are sorted.
func gotvPrintTasks(out *strings.Builder, name string, t *parsedTrace) {
	type agg = gotvAgg
	add := func(m map[string]*agg, typ string, d int64, counted bool) {
		a := m[typ]
		if a == nil {
			a = &agg{min: -1}
			m[typ] = a
		}
		a.add(d, counted)
	}
	tasks := map[string]*agg{}
	for _, task := range t.summary.Tasks {
		d := int64(0)
		if task.Complete() {
			d = int64(task.End.Time().Sub(task.Start.Time()))
		}
		add(tasks, task.Name, d, task.Complete())
	}
	regions := map[string]*agg{}
	for _, g := range t.summary.Goroutines {
		for _, r := range g.Regions {
			add(regions, r.Name, int64(regionInterval(t, r).duration()), true)
		}
	}
	print := func(kind string, m map[string]*agg, withComplete bool) {
		types := make([]string, 0, len(m))
		for typ := range m {
			types = append(types, typ)
		}
		sort.Strings(types)
		for _, typ := range types {
			a := m[typ]
			if withComplete {
				fmt.Fprintf(out, "%s %s %d %d %d %d %d %s\n", kind, name, a.count, a.complete, a.sum, a.min, a.max, typ)
			} else {
				fmt.Fprintf(out, "%s %s %d %d %d %d %s\n", kind, name, a.count, a.sum, a.min, a.max, typ)
			}
		}
	}
	print("task", tasks, true)
	print("region", regions, false)
	gotvPrintRegionSites(out, name, t)
}

// gotvAgg counts durations: how many, and of those timed (complete), the
// sum, least and greatest (min -1 while none is).
type gotvAgg struct{ count, complete, sum, min, max int64 }

func (a *gotvAgg) add(d int64, timed bool) {
	a.count++
	if !timed {
		return
	}
	a.complete++
	a.sum += d
	if a.min < 0 || d < a.min {
		a.min = d
	}
	if d > a.max {
		a.max = d
	}
}

// gotvPrintRegionSites prints the regions split as the regions page splits
// them, by type and the frame regionTopStackFrame picks from the region's
// start stack: "regionsite TRACE COUNT SUM_NS MIN_NS MAX_NS LINE
// FUNC<tab>FILE<tab>TYPE" (LINE 0 and FUNC and FILE empty for a region
// without a start stack). Sorted by type, then function, file and line.
func gotvPrintRegionSites(out *strings.Builder, name string, t *parsedTrace) {
	type key struct {
		typ string
		pc  uint64
	}
	type agg struct {
		frame trace.StackFrame
		gotvAgg
	}
	m := map[key]*agg{}
	for _, g := range t.summary.Goroutines {
		for _, r := range g.Regions {
			f := regionTopStackFrame(r)
			k := key{r.Name, f.PC}
			a := m[k]
			if a == nil {
				a = &agg{frame: f, gotvAgg: gotvAgg{min: -1}}
				m[k] = a
			}
			a.add(int64(regionInterval(t, r).duration()), true)
		}
	}
	keys := make([]key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := m[keys[i]].frame, m[keys[j]].frame
		if keys[i].typ != keys[j].typ {
			return keys[i].typ < keys[j].typ
		}
		if a.Func != b.Func {
			return a.Func < b.Func
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return keys[i].pc < keys[j].pc
	})
	for _, k := range keys {
		a := m[k]
		fmt.Fprintf(out, "regionsite %s %d %d %d %d %d %s\t%s\t%s\n", name, a.count, a.sum, a.min, a.max, a.frame.Line, a.frame.Func, a.frame.File, k.typ)
	}
}
