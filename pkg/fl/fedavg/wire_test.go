package fedavg

import (
	"reflect"
	"strings"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	w := welcomeMsg{Clients: 3, DataSeed: -7, Heartbeat: 2000, SecAgg: &SecAggOptions{Clip: 8, MaxWeight: 100, Threshold: 2}}
	tr := trainMsg{Round: 4, Config: TrainConfig{LocalEpochs: 10, BatchSize: 32, LearningRate: 0.02, Seed: 1 << 60}, Params: []float32{1, -2.5, 3e-9}}
	up := updateMsg{Round: 4, Update: Update{Delta: []float32{0.5, -0.25}, Weight: 4221, LossSum: 12.5, Correct: 42000, Seen: 42210}}
	sa := secaggMsg{Round: 2, Payload: []byte("SA\x01payload")}
	for _, tc := range []struct {
		name   string
		frame  []byte
		kind   msgKind
		decode func(*decoder) (any, error)
		want   any
	}{
		{"welcome", w.encode(), kindWelcome, func(d *decoder) (any, error) { return decodeWelcome(d) }, w},
		{"train", tr.encode(), kindTrain, func(d *decoder) (any, error) { return decodeTrain(d) }, tr},
		{"update", up.encode(), kindUpdate, func(d *decoder) (any, error) { return decodeUpdate(d) }, up},
		{"secagg", sa.encode(), kindSecAgg, func(d *decoder) (any, error) { return decodeSecAgg(d) }, sa},
		{"reject", encodeReject("no"), kindReject, func(d *decoder) (any, error) { return decodeReject(d) }, "no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, d, err := parseMsg(tc.frame)
			if err != nil || k != tc.kind {
				t.Fatalf("parseMsg: kind %v, error %v; want %v", k, err, tc.kind)
			}
			got, err := tc.decode(d)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decoded %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWireRejectsMalformed(t *testing.T) {
	train := trainMsg{Round: 1, Config: TrainConfig{LocalEpochs: 1, BatchSize: 1, LearningRate: 1}, Params: []float32{1, 2}}.encode()
	huge := append([]byte(nil), train[:len(train)-16]...) // less the two values and the sample flag
	huge = append(huge, 0xff, 0xff, 0xff, 0x7f)           // a length of 2^31-1 values
	for _, tc := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty", nil, "not a fedavg message"},
		{"bad magic", []byte{0x00, byte(kindHello)}, "not a fedavg message"},
		{"unknown kind", []byte{wireMagic, 99}, "unknown message kind 99"},
		{"truncated", train[:len(train)-7], "malformed train message: count 2 does not fit"},
		{"trailing", append(append([]byte(nil), train...), 0), "1 unexpected trailing bytes"},
		{"huge vector", huge, "exceeds the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, d, err := parseMsg(tc.frame)
			if err == nil {
				_, err = decodeTrain(d)
				_ = k
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
