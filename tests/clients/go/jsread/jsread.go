// nats.go's JetStream read side against a server: GetMsg / GetLastMsg (API and direct),
// DirectGetNext, DeleteMsg / SecureDeleteMsg, and a KV get (a direct get by subject).
// Prints one line per call (times left out); the test compares natsx's lines with nats-server's.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
)

func show(what string, m *nats.RawStreamMsg, err error) {
	if err != nil {
		fmt.Printf("%s: error %v\n", what, err)
		return
	}
	fmt.Printf("%s: %s %d %q %q\n", what, m.Subject, m.Sequence, m.Data, m.Header.Get("X"))
}

func main() {
	nc, err := nats.Connect(os.Args[1], nats.Timeout(5*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer nc.Close()
	js, _ := nc.JetStream(nats.MaxWait(3 * time.Second))
	if _, err := js.AddStream(&nats.StreamConfig{Name: "G", Subjects: []string{"g.>"}, AllowDirect: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	msg := nats.NewMsg("g.1")
	msg.Data = []byte("one")
	msg.Header.Set("X", "y")
	js.PublishMsg(msg)
	js.Publish("g.2", []byte("two"))
	js.Publish("g.1", []byte("three"))

	m, err := js.GetMsg("G", 1)
	show("get 1", m, err)
	m, err = js.GetMsg("G", 1, nats.DirectGet())
	show("direct 1", m, err)
	m, err = js.GetLastMsg("G", "g.1")
	show("last g.1", m, err)
	m, err = js.GetLastMsg("G", "g.1", nats.DirectGet())
	show("direct last g.1", m, err)
	m, err = js.GetMsg("G", 2, nats.DirectGetNext("g.1"))
	show("direct next g.1", m, err)
	m, err = js.GetMsg("G", 9)
	show("get 9", m, err)
	m, err = js.GetMsg("G", 9, nats.DirectGet())
	show("direct 9", m, err)
	fmt.Println("delete 1:", js.DeleteMsg("G", 1))
	fmt.Println("delete 1 again:", js.DeleteMsg("G", 1))
	fmt.Println("secure delete 2:", js.SecureDeleteMsg("G", 2))
	m, err = js.GetMsg("G", 2)
	show("get 2", m, err)

	kv, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "B"})
	if err != nil {
		fmt.Println("kv:", err)
		return
	}
	kv.Put("k", []byte("v1"))
	kv.Put("k", []byte("v2"))
	e, err := kv.Get("k")
	if err != nil {
		fmt.Println("kv get:", err)
	} else {
		fmt.Printf("kv get: %s %q %d\n", e.Key(), e.Value(), e.Revision())
	}
	_, err = kv.Get("missing")
	fmt.Println("kv missing:", err)
}
