// pprofserve is a small Go service for gotv's capture test: it serves
// net/http/pprof on a loopback port, prints "listening on ADDR" once it
// accepts connections, and keeps two goroutines passing a value back and
// forth over channels, so a trace of it has a known shape. It exits after
// -for (a minute by default) in case the test that started it dies.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

// pingPong sends a counter to its echo goroutine and waits for it back.
func pingPong() {
	ping, pong := make(chan int), make(chan int)
	go echo(ping, pong)
	for i := 0; ; i++ {
		ping <- i
		<-pong
		time.Sleep(200 * time.Microsecond)
	}
}

// echo answers every value with the next one.
func echo(ping <-chan int, pong chan<- int) {
	for v := range ping {
		pong <- v + 1
	}
}

func main() {
	life := flag.Duration("for", time.Minute, "exit after this long")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go pingPong()
	time.AfterFunc(*life, func() { os.Exit(0) })
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, nil))
}
