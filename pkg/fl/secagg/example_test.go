package secagg_test

import (
	"crypto/rand"
	"fmt"
	"log"

	"github.com/ppml-go/ppml/pkg/fl/secagg"
)

// Five clients aggregate 3-vectors; one (chosen at random with cfg.Seed)
// drops out after sharing its keys, before sending its masked input, and the
// server still gets the sum of the four others (exact here: these inputs are
// multiples of the quantization step 2*8/2^22).
func ExampleRun() {
	cfg := secagg.Config{N: 5, Dim: 3, Round: 1, Seed: 7}
	inputs := [][]float64{
		{0.5, -1, 2},
		{0.25, 1, -1},
		{-0.5, 0, 1},
		{1, 1, 1},
		{2, -2, 0.125},
	}
	res, err := secagg.Run(cfg, inputs, []int{0, 0, 1}) // one dropout before the masked input
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("dropped:", res.Dropped[2])
	fmt.Println("contributors:", res.Contributors)
	fmt.Printf("sum: %.3f\n", res.Sum)
	// Output:
	// dropped: [2]
	// contributors: [0 1 3 4]
	// sum: [3.750 -1.000 2.125]
}

// The client and server state machines, with every message marshaled to
// bytes as it would be sent over a network (e.g. ZeroMQ).
func Example_clientServer() {
	cfg := secagg.Config{N: 3, Dim: 2, Round: 42}
	server, _ := secagg.NewServer(cfg)
	var clients []*secagg.Client
	for i, in := range [][]float64{{1, 2}, {3, 4}, {5, 6}} {
		c, err := secagg.NewClient(cfg, i, in)
		if err != nil {
			log.Fatal(err)
		}
		clients = append(clients, c)
	}
	// send marshals m, "transmits" it and unmarshals it on the other side.
	send := func(m secagg.Message) secagg.Message {
		b, err := m.MarshalBinary()
		if err != nil {
			log.Fatal(err)
		}
		got, err := secagg.Unmarshal(b)
		if err != nil {
			log.Fatal(err)
		}
		return got
	}
	check := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	for _, c := range clients {
		m, err := c.AdvertiseKeys()
		check(err)
		check(server.Receive(send(m)))
	}
	keys, err := server.KeyList()
	check(err)
	for _, c := range clients {
		m, err := c.ShareKeys(send(keys).(*secagg.KeyList))
		check(err)
		check(server.Receive(send(m)))
	}
	bundles, err := server.ShareBundles()
	check(err)
	for _, b := range bundles {
		m, err := clients[b.To].MaskedInput(send(b).(*secagg.ShareBundle))
		check(err)
		check(server.Receive(send(m)))
	}
	req, err := server.UnmaskRequest()
	check(err)
	for _, c := range clients {
		m, err := c.Unmask(send(req).(*secagg.UnmaskRequest))
		check(err)
		check(server.Receive(send(m)))
	}
	sum, err := server.ResultFloat()
	check(err)
	fmt.Printf("sum of %v: %.3f\n", server.Contributors(), sum)
	// Output:
	// sum of [0 1 2]: [9.000 12.000]
}

// Bell et al.'s parameters for 500 clients of which 5% may collude with the
// server and 10% may drop out, and a configuration that uses them (its
// GraphSeed drawn at random by the server and announced to all).
func ExamplePlusParams() {
	k, t, err := secagg.PlusParams(500, secagg.Threat{Corrupt: 0.05, Dropout: 0.1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("k=%d neighbours, threshold t=%d\n", k, t)
	cfg := secagg.Config{N: 500, Dim: 10, Neighbours: k, Threshold: t, Corrupt: 0.05, Dropout: 0.1}
	if _, err := rand.Read(cfg.GraphSeed[:]); err != nil {
		log.Fatal(err)
	}
	if _, err := secagg.NewServer(cfg); err != nil {
		log.Fatal(err)
	}
	// Output:
	// k=32 neighbours, threshold t=17
}
