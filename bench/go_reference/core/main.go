// Minimal nats-bench (as nats.go's examples/nats-bench): core NATS load with nats.go, the same
// scenarios as bench/suite.py runs with natsx bench (python -m bench.compare --generator go).
//
//	-np P -ns S            P publishers share -n messages, each of S subscribers receives all of them
//	-queue NAME            the S subscribers form a queue group and share the -n messages
//	-multisubject M        publish to <subj>.<i mod M, zero-padded>, subscribers take <subj>.*
//	-req                   request/reply: one service answers "ok", P requesters share -n requests
package main

import (
	"flag"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/bench"
)

func connect(url string) *nats.Conn {
	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		panic(err)
	}
	return nc
}

// requestReply prints "Req stats: <requests/s> msgs/sec ~ p50 <µs> us" over all requesters.
func requestReply(url, subj string, np, n, size int) {
	svc := connect(url)
	if _, err := svc.QueueSubscribe(subj, "q", func(m *nats.Msg) { m.Respond([]byte("ok")) }); err != nil {
		panic(err)
	}
	svc.Flush()
	conns := make([]*nats.Conn, np)
	for i := range conns {
		conns[i] = connect(url)
	}
	lat := make([][]time.Duration, np)
	var wg sync.WaitGroup
	wg.Add(np)
	msg := make([]byte, size)
	start := time.Now()
	for i := 0; i < np; i++ {
		go func(i int) {
			defer wg.Done()
			for j := 0; j < n/np; j++ {
				t0 := time.Now()
				if _, err := conns[i].Request(subj, msg, 5*time.Second); err != nil {
					panic(err)
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	p50 := all[len(all)/2]
	fmt.Printf("Req stats: %d msgs/sec ~ p50 %.1f us\n", int64(float64(len(all))/elapsed.Seconds()),
		float64(p50.Nanoseconds())/1e3)
	for _, nc := range conns {
		nc.Close()
	}
	svc.Close()
}

func main() {
	url := flag.String("s", nats.DefaultURL, "server")
	np := flag.Int("np", 1, "publishers (requesters with -req)")
	ns := flag.Int("ns", 0, "subscribers")
	n := flag.Int("n", 1000000, "messages")
	size := flag.Int("ms", 16, "message size")
	subj := flag.String("subj", "bench.go", "subject")
	queue := flag.String("queue", "", "subscribers join this queue group and share the messages")
	multi := flag.Int("multisubject", 0, "publish to this many subjects <subj>.<number>")
	req := flag.Bool("req", false, "request/reply instead of publish/subscribe")
	flag.Parse()
	if *req {
		requestReply(*url, *subj, *np, *n, *size)
		return
	}
	subjects := []string{*subj}
	subSubject := *subj
	if *multi > 0 {
		width := len(strconv.Itoa(*multi))
		subjects = make([]string, *multi)
		for i := range subjects {
			subjects[i] = fmt.Sprintf("%s.%0*d", *subj, width, i)
		}
		subSubject = *subj + ".*"
	}
	bm := bench.NewBenchmark("NATS", *ns, *np)
	var startwg, donewg sync.WaitGroup
	donewg.Add(*np + *ns)
	startwg.Add(*ns)
	// In a queue group the subscribers are done together, once all of them got -n between them.
	var shared int64
	var sharedEnd int64
	sharedDone := make(chan struct{})
	for i := 0; i < *ns; i++ {
		go func() {
			nc := connect(*url)
			var received, endNs int64
			first := make(chan time.Time, 1)
			mine := make(chan struct{})
			handler := func(msg *nats.Msg) {
				c := atomic.AddInt64(&received, 1)
				if c == 1 {
					first <- time.Now()
				}
				if *queue != "" {
					if atomic.AddInt64(&shared, 1) == int64(*n) {
						atomic.StoreInt64(&sharedEnd, time.Now().UnixNano())
						close(sharedDone)
					}
				} else if c == int64(*n) {
					atomic.StoreInt64(&endNs, time.Now().UnixNano())
					close(mine)
				}
			}
			var sub *nats.Subscription
			var err error
			if *queue != "" {
				sub, err = nc.QueueSubscribe(subSubject, *queue, handler)
				mine = sharedDone
			} else {
				sub, err = nc.Subscribe(subSubject, handler)
			}
			if err != nil {
				panic(err)
			}
			sub.SetPendingLimits(-1, -1)
			nc.Flush()
			startwg.Done()
			<-mine
			end := atomic.LoadInt64(&endNs)
			if *queue != "" {
				end = atomic.LoadInt64(&sharedEnd)
			}
			select {
			case start := <-first:
				bm.AddSubSample(bench.NewSample(int(atomic.LoadInt64(&received)), *size, start, time.Unix(0, end), nc))
			default: // a queue member that got nothing
			}
			nc.Close()
			donewg.Done()
		}()
	}
	startwg.Wait()
	for i := 0; i < *np; i++ {
		go func() {
			nc := connect(*url)
			msg := make([]byte, *size)
			start := time.Now()
			for j := 0; j < *n / *np; j++ {
				nc.Publish(subjects[j%len(subjects)], msg)
			}
			nc.Flush()
			bm.AddPubSample(bench.NewSample(*n / *np, *size, start, time.Now(), nc))
			nc.Close()
			donewg.Done()
		}()
	}
	donewg.Wait()
	bm.Close()
	fmt.Print(bm.Report())
}
