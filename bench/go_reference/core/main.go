// Minimal nats-bench (as nats.go's examples/nats-bench): core pub/sub throughput with nats.go.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/bench"
)

func main() {
	url := flag.String("s", nats.DefaultURL, "server")
	np := flag.Int("np", 1, "publishers")
	ns := flag.Int("ns", 0, "subscribers")
	n := flag.Int("n", 1000000, "messages")
	size := flag.Int("ms", 16, "message size")
	flag.Parse()
	subj := "bench.go"
	bm := bench.NewBenchmark("NATS", *ns, *np)
	var startwg, donewg sync.WaitGroup
	donewg.Add(*np + *ns)
	startwg.Add(*ns)
	for i := 0; i < *ns; i++ {
		go func() {
			nc, err := nats.Connect(*url, nats.NoReconnect())
			if err != nil {
				panic(err)
			}
			received := 0
			ch := make(chan time.Time, 2)
			sub, _ := nc.Subscribe(subj, func(msg *nats.Msg) {
				received++
				if received == 1 {
					ch <- time.Now()
				}
				if received >= *n {
					ch <- time.Now()
				}
			})
			sub.SetPendingLimits(-1, -1)
			nc.Flush()
			startwg.Done()
			start := <-ch
			end := <-ch
			bm.AddSubSample(bench.NewSample(*n, *size, start, end, nc))
			nc.Close()
			donewg.Done()
		}()
	}
	startwg.Wait()
	for i := 0; i < *np; i++ {
		go func() {
			nc, err := nats.Connect(*url, nats.NoReconnect())
			if err != nil {
				panic(err)
			}
			msg := make([]byte, *size)
			start := time.Now()
			for j := 0; j < *n / *np; j++ {
				nc.Publish(subj, msg)
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
