package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// maxItemObject bounds an object a Distributed Map reads its items from.
const maxItemObject = 256 << 20

// GetObject reads an S3 object, for a Map's ItemReader.
func (c *Client) GetObject(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, call{svc: services["s3"], action: "getObject"}.failure(err))
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, maxItemObject+1))
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	if len(b) > maxItemObject {
		return nil, fmt.Errorf("s3://%s/%s is larger than %d bytes", bucket, key, maxItemObject)
	}
	return b, nil
}

// ListObjects lists the objects of a bucket whose keys start with prefix,
// each as ListObjectsV2 describes it ({Etag, Key, LastModified, Size,
// StorageClass}), for a Map's ItemReader.
func (c *Client) ListObjects(ctx context.Context, bucket, prefix string) ([]any, error) {
	var items []any
	p := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3://%s/%s: %w", bucket, prefix, call{svc: services["s3"], action: "listObjectsV2"}.failure(err))
		}
		for _, o := range page.Contents {
			lm := int64(0)
			if o.LastModified != nil {
				lm = o.LastModified.Unix()
			}
			items = append(items, objectOf(
				"Etag", aws.ToString(o.ETag),
				"Key", aws.ToString(o.Key),
				"LastModified", jsonInt(lm),
				"Size", jsonInt(aws.ToInt64(o.Size)),
				"StorageClass", string(o.StorageClass),
			))
		}
	}
	return items, nil
}

func jsonInt[N int | int64](n N) json.Number { return json.Number(strconv.FormatInt(int64(n), 10)) }
