// nats.go (the official Go client) against the server at os.Args[1]: pub/sub with a wildcard,
// headers, request/reply, no responders, queue groups, a 1 MiB payload, drain. Prints "ok N".
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
)

var checks int

func check(cond bool, what string) {
	if !cond {
		fmt.Fprintln(os.Stderr, "failed:", what)
		os.Exit(1)
	}
	checks++
}

func main() {
	nc, err := nats.Connect(os.Args[1])
	check(err == nil, fmt.Sprint("connect ", err))

	sub, err := nc.SubscribeSync("go.*.x")
	check(err == nil, "subscribe")
	msg := nats.NewMsg("go.a.x")
	msg.Data = []byte("hello")
	msg.Header.Set("K", "v1")
	check(nc.PublishMsg(msg) == nil, "publish")
	got, err := sub.NextMsg(2 * time.Second)
	check(err == nil && got.Subject == "go.a.x" && string(got.Data) == "hello", "wildcard delivery")
	check(got.Header.Get("K") == "v1", "headers")

	_, err = nc.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("echo:"), m.Data...)) })
	check(err == nil, "service")
	reply, err := nc.Request("svc.echo", []byte("hi"), 2*time.Second)
	check(err == nil && string(reply.Data) == "echo:hi", "request/reply")
	_, err = nc.Request("nobody.home", []byte("x"), 2*time.Second)
	check(errors.Is(err, nats.ErrNoResponders), fmt.Sprint("no responders: ", err))

	counts := make([]int, 3)
	done := make(chan struct{}, 300)
	for i := range counts {
		i := i
		_, err := nc.QueueSubscribe("work", "grp", func(*nats.Msg) { counts[i]++; done <- struct{}{} })
		check(err == nil, "queue subscribe")
	}
	for i := 0; i < 300; i++ {
		nc.Publish("work", []byte("w"))
	}
	for i := 0; i < 300; i++ {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			check(false, "queue group delivery")
		}
	}
	check(counts[0] > 0 && counts[1] > 0 && counts[2] > 0, fmt.Sprint("queue spread ", counts))

	big := bytes.Repeat([]byte{7}, 1024*1024-64)
	bs, _ := nc.SubscribeSync("big")
	check(nc.Publish("big", big) == nil, "publish big")
	bm, err := bs.NextMsg(5 * time.Second)
	check(err == nil && bytes.Equal(bm.Data, big), "1 MiB payload")

	check(nc.Drain() == nil, "drain")
	fmt.Printf("ok %d\n", checks)
}
