// Package traceout is what a test program does around its work: it writes
// an execution trace to the file named by the program's one argument.
//
// Programs written before it (all but cgocallback) still spell this out in
// their main; moving them here changes the line numbers in their traces'
// stacks, so it waits until their traces are made again.
package traceout

import (
	"fmt"
	"os"
	"runtime/trace"
)

// Run traces run into the file os.Args[1] names; name is the program's,
// for the usage message. A failure ends the program.
func Run(name string, run func()) {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s OUT.trace\n", name)
		os.Exit(2)
	}
	out, err := os.Create(os.Args[1])
	if err != nil {
		fail(err)
	}
	if err := trace.Start(out); err != nil {
		fail(err)
	}
	run()
	trace.Stop()
	if err := out.Close(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
