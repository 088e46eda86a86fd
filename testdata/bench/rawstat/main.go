// Command gotvrawstat prints, for a Go execution trace, how many raw
// (wire-format) events of each type it holds and how many bytes they take,
// plus the size distribution of its generations. It uses internal/trace/raw,
// so like goreader it has to be built from inside GOROOT:
//
//	mkdir -p $GOROOT/src/cmd/gotvrawstat
//	cp testdata/bench/rawstat/main.go $GOROOT/src/cmd/gotvrawstat/
//	cd $GOROOT/src/cmd/gotvrawstat && GOTOOLCHAIN=local go build -o /tmp/gotvrawstat .
//	/tmp/gotvrawstat TRACE
package main

import (
	"bufio"
	"fmt"
	"internal/trace/raw"
	"io"
	"os"
	"sort"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gotvrawstat TRACE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r, err := raw.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		panic(err)
	}
	bytes := map[string]int{}
	counts := map[string]int{}
	total := 0
	genBytes := 0
	var gens []int
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		name := ev.Version.Specs()[ev.Ev].Name
		n := ev.EncodedSize()
		bytes[name] += n
		counts[name]++
		total += n
		genBytes += n
		if name == "EndOfGeneration" {
			gens = append(gens, genBytes)
			genBytes = 0
		}
	}
	var names []string
	for k := range bytes {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return bytes[names[i]] > bytes[names[j]] })
	for _, k := range names {
		fmt.Printf("%-22s %10d ev %12d B %5.1f%%\n", k, counts[k], bytes[k], 100*float64(bytes[k])/float64(total))
	}
	fmt.Println("total", total)
	if genBytes > 0 {
		gens = append(gens, genBytes)
	}
	sort.Ints(gens)
	sum := 0
	for _, g := range gens {
		sum += g
	}
	if len(gens) > 0 {
		fmt.Printf("generations %d: min %.1f MiB, median %.1f MiB, max %.1f MiB, mean %.1f MiB\n", len(gens),
			float64(gens[0])/(1<<20), float64(gens[len(gens)/2])/(1<<20), float64(gens[len(gens)-1])/(1<<20), float64(sum)/float64(len(gens))/(1<<20))
	}
}
