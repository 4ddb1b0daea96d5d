package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// maxItemObject bounds an object a Distributed Map reads its items from.
const maxItemObject = 256 << 20

// GetObject reads an S3 object, for a Map's ItemReader.
func (c *Client) GetObject(ctx context.Context, bucket, key string) ([]byte, error) {
	get := c.s3Call("getObject")
	req, err := encode(get.svc, get.op, objectOf("Bucket", bucket, "Key", key))
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	if err := c.addChecksums("getObject", req); err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	resp, err := c.send(ctx, req, maxItemObject, errorOf(get.svc))
	if err == nil {
		err = checkChecksum(req, resp)
	}
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, get.failure(err))
	}
	return resp.body, nil
}

// ListObjects lists the objects of a bucket whose keys start with prefix,
// each as ListObjectsV2 describes it ({Etag, Key, LastModified, Size,
// StorageClass}), for a Map's ItemReader.
func (c *Client) ListObjects(ctx context.Context, bucket, prefix string) ([]any, error) {
	list := c.s3Call("listObjectsV2")
	var items []any
	token := ""
	for {
		in := objectOf("Bucket", bucket, "Prefix", prefix)
		if token != "" {
			in.Set("ContinuationToken", token)
		}
		page, _, err := c.do(ctx, list, in, maxResponse)
		if err != nil {
			return nil, fmt.Errorf("s3://%s/%s: %w", bucket, prefix, list.failure(err))
		}
		contents, _ := page.Get("Contents")
		objs, _ := contents.([]any)
		for _, o := range objs {
			obj, _ := o.(*jsonvalue.Object)
			if obj == nil {
				continue
			}
			lm := int64(0)
			if s, ok := obj.Get("LastModified"); ok {
				if t, err := time.Parse(time.RFC3339Nano, s.(string)); err == nil {
					lm = t.Unix()
				}
			}
			size := int64(0)
			if n, ok := obj.Get("Size"); ok {
				size, _ = strconv.ParseInt(string(n.(json.Number)), 10, 64)
			}
			items = append(items, objectOf(
				"Etag", text(obj, "ETag"),
				"Key", text(obj, "Key"),
				"LastModified", jsonInt(lm),
				"Size", jsonInt(size),
				"StorageClass", text(obj, "StorageClass"),
			))
		}
		// As the SDK's paginator: the next page while the listing is
		// truncated and gives a new token.
		next := text(page, "NextContinuationToken")
		truncated, _ := page.Get("IsTruncated")
		if truncated != true || next == "" || next == token {
			return items, nil
		}
		token = next
	}
}

func (c *Client) s3Call(action string) call {
	svc := c.services["s3"]
	return call{svc: svc, action: action, op: svc.ops[action]}
}

func text(o *jsonvalue.Object, k string) string {
	v, _ := o.Get(k)
	s, _ := v.(string)
	return s
}

func jsonInt[N int | int64](n N) json.Number { return json.Number(strconv.FormatInt(int64(n), 10)) }
