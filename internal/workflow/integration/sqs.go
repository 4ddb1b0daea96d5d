package integration

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// checkMessageDigests compares the MD5 digests SQS gives of message
// bodies with the bodies sent or received, as the AWS SDKs do: a
// mismatch means a body changed on the way.
func checkMessageDigests(action string, in, out *jsonvalue.Object) error {
	switch action {
	case "sendMessage":
		if !in.Has("MessageBody") {
			return nil
		}
		return checkDigest(text(in, "MessageBody"), text(out, "MD5OfMessageBody"), text(out, "MessageId"))
	case "sendMessageBatch":
		bodies := map[string]string{}
		for _, e := range objects(in, "Entries") {
			if e.Has("MessageBody") {
				bodies[text(e, "Id")] = text(e, "MessageBody")
			}
		}
		for _, e := range objects(out, "Successful") {
			if body, ok := bodies[text(e, "Id")]; ok {
				if err := checkDigest(body, text(e, "MD5OfMessageBody"), text(e, "MessageId")); err != nil {
					return err
				}
			}
		}
	case "receiveMessage":
		for _, m := range objects(out, "Messages") {
			if !m.Has("Body") {
				continue
			}
			if err := checkDigest(text(m, "Body"), text(m, "MD5OfBody"), text(m, "MessageId")); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkDigest(body, digest, id string) error {
	if digest == "" {
		return nil
	}
	sum := md5.Sum([]byte(body))
	if got := hex.EncodeToString(sum[:]); got != digest {
		return fmt.Errorf("message checksum validation failed: message %s has the MD5 digest %s, SQS gave %s", id, got, digest)
	}
	return nil
}

func objects(o *jsonvalue.Object, k string) []*jsonvalue.Object {
	v, _ := o.Get(k)
	arr, _ := v.([]any)
	out := make([]*jsonvalue.Object, 0, len(arr))
	for _, e := range arr {
		if obj, ok := e.(*jsonvalue.Object); ok {
			out = append(out, obj)
		}
	}
	return out
}
