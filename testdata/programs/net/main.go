// Program net runs a loopback (127.0.0.1 only) net/http server and client,
// plus a raw TCP echo exchange where the server blocks in the network poller.
//
// Well-known goroutines:
//   - main.echoServer blocks reading from a TCP connection for ~20 ms
//     (the client, main.echoClient, sleeps before writing).
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/trace"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: net OUT.trace")
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
	httpExchange()
	echoExchange()
}

func httpExchange() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, "+r.URL.Query().Get("name"))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond)
		io.WriteString(w, strings.Repeat("x", 4096))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)

	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
	base := "http://" + ln.Addr().String()
	get := func(path string) {
		resp, err := client.Get(base + path)
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i := 0; i < 150; i++ {
		get(fmt.Sprintf("/hello?name=n%d", i))
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 6; j++ {
				get("/slow")
			}
		}()
	}
	wg.Wait()
	client.Transport.(*http.Transport).CloseIdleConnections()
	srv.Close()
}

func echoExchange() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go echoServer(ln, &wg)
	go echoClient(ln.Addr().String(), &wg)
	wg.Wait()
	ln.Close()
}

// echoServer accepts one connection and echoes lines; its first read
// blocks in the network poller for ~20 ms.
func echoServer(ln net.Listener, wg *sync.WaitGroup) {
	defer wg.Done()
	c, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		c.Write([]byte(line))
	}
}

func echoClient(addr string, wg *sync.WaitGroup) {
	defer wg.Done()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		panic(err)
	}
	time.Sleep(20 * time.Millisecond)
	r := bufio.NewReader(c)
	for i := 0; i < 10; i++ {
		fmt.Fprintf(c, "line %d\n", i)
		if _, err := r.ReadString('\n'); err != nil {
			panic(err)
		}
	}
	c.Close()
}
