// JetStream async publish and durable fetch+ack with nats.go (reference for natsx bench js pub async / js fetch).
package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("s", nats.DefaultURL, "server")
	n := flag.Int("n", 300000, "messages")
	mode := flag.String("mode", "pub", "pub|consume")
	flag.Parse()
	nc, err := nats.Connect(*url)
	if err != nil {
		panic(err)
	}
	js, _ := nc.JetStream(nats.PublishAsyncMaxPending(4000))
	if *mode == "pub" {
		js.DeleteStream("gobench")
		_, err = js.AddStream(&nats.StreamConfig{Name: "gobench", Subjects: []string{"gob.js"}, Storage: nats.FileStorage})
		if err != nil {
			panic(err)
		}
		msg := make([]byte, 16)
		start := time.Now()
		for i := 0; i < *n; i++ {
			if _, err := js.PublishAsync("gob.js", msg); err != nil {
				panic(err)
			}
		}
		<-js.PublishAsyncComplete()
		el := time.Since(start)
		fmt.Printf("go js async publish: %.0f msgs/s\n", float64(*n)/el.Seconds())
		return
	}
	sub, err := js.PullSubscribe("gob.js", "gobdur")
	if err != nil {
		panic(err)
	}
	start := time.Now()
	got := 0
	for got < *n {
		msgs, err := sub.Fetch(500, nats.MaxWait(5*time.Second))
		if err != nil {
			panic(err)
		}
		for _, m := range msgs {
			m.Ack()
			got++
		}
	}
	fmt.Printf("go js durable fetch+ack: %.0f msgs/s\n", float64(got)/time.Since(start).Seconds())
}
