package jupyter_test

import (
	"fmt"

	"github.com/ppml-go/ppml/kernel/jupyter"
)

// A message goes through the codec as the multipart frames a socket sends,
// signed with the connection key, and comes back verified.
func ExampleCodec() {
	codec := jupyter.NewCodec([]byte("secret"))
	session := &jupyter.Session{ID: "session-1", Username: "student"}
	req, err := session.NewMessage("execute_request", nil, map[string]any{"code": "fmt.Println(1)"})
	if err != nil {
		panic(err)
	}
	frames, err := codec.Encode(req)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(frames), string(frames[0]), len(frames[1]))

	frames[5] = []byte(`{"code":"os.Exit(1)"}`) // tampered in transit
	_, err = codec.Decode(frames)
	fmt.Println(err)
	// Output:
	// 6 <IDS|MSG> 64
	// jupyter: bad message signature
}
