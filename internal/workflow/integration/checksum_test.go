package integration

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestChecksumVectors checks the CRCs against the catalogue's check
// values (of "123456789").
func TestChecksumVectors(t *testing.T) {
	for alg, want := range map[string]uint64{"CRC32": 0xCBF43926, "CRC32C": 0xE3069283, "CRC64NVME": 0xAE8B14860A799888} {
		got, err := checksum(alg, []byte("123456789"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := base64.StdEncoding.DecodeString(got)
		var n uint64
		if len(b) == 4 {
			n = uint64(binary.BigEndian.Uint32(b))
		} else {
			n = binary.BigEndian.Uint64(b)
		}
		if n != want {
			t.Errorf("%s = %x, want %x", alg, n, want)
		}
	}
}

// redirect sends every request to a test server, whatever its host.
type redirect struct{ to *url.URL }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.to.Scheme, r.to.Host
	return http.DefaultTransport.RoundTrip(req)
}

// TestChecksumsAsSDK compares S3's checksums against AWS with the SDK's
// defaults: PutObject's checksum headers, GetObject's checksum mode, and
// a body that does not match its checksum refused.
func TestChecksumsAsSDK(t *testing.T) {
	var got []http.Header
	body := "hello"
	sum, _ := checksum("CRC32", []byte(body))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		got = append(got, r.Header.Clone())
		if r.Method == "GET" {
			w.Header().Set("X-Amz-Checksum-Crc32", sum)
			if strings.HasSuffix(r.URL.Path, "/bad") {
				w.Header().Set("X-Amz-Checksum-Crc32", "AAAAAA==")
			}
			io.WriteString(w, body)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ours := &Client{http: &http.Client{Transport: redirect{u}}, region: "us-east-1", signer: signer{creds: credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}, region: "us-east-1"}, services: services()}
	// The SDK's defaults as config.LoadDefaultConfig sets them.
	sdk := s3.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: &http.Client{Transport: redirect{u}},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}, nil
		})})
	ctx := context.Background()
	for _, tc := range []struct{ action, params string }{
		{"putObject", `{"Bucket":"b","Key":"k","Body":"data"}`},
		{"putObject", `{"Bucket":"b","Key":"k","Body":"data","ChecksumAlgorithm":"SHA256"}`},
		{"getObject", `{"Bucket":"b","Key":"k"}`},
		{"getObject", `{"Bucket":"b","Key":"bad"}`},
	} {
		got = nil
		_, ourErr := ours.Invoke(ctx, "arn:aws:states:::aws-sdk:s3:"+tc.action, decode(t, tc.params))
		op := ours.services["s3"].ops[tc.action]
		var sdkErr error
		switch tc.action {
		case "putObject":
			in := &s3.PutObjectInput{}
			sdkFill(in, decode(t, tc.params))
			_, sdkErr = sdk.PutObject(ctx, in)
		case "getObject":
			in := &s3.GetObjectInput{}
			sdkFill(in, decode(t, tc.params))
			out, err := sdk.GetObject(ctx, in)
			if err == nil {
				_, err = sdkResult(out)
			}
			sdkErr = err
		}
		if (ourErr == nil) != (sdkErr == nil) {
			t.Errorf("%s %s: error %v, the SDK %v", op.name, tc.params, ourErr, sdkErr)
		}
		if len(got) != 2 {
			t.Fatalf("%s: %d requests", op.name, len(got))
		}
		// The SDK sends some checksums as a trailer of an aws-chunked
		// body, this client as a header: the same algorithm.
		if o, s := announced(got[0]), announced(got[1]); o != s {
			t.Errorf("%s %s: checksum %q, the SDK %q", op.name, tc.params, o, s)
		}
		if o, s := got[0].Get("X-Amz-Checksum-Mode"), got[1].Get("X-Amz-Checksum-Mode"); o != s {
			t.Errorf("%s %s: X-Amz-Checksum-Mode %q, the SDK %q", op.name, tc.params, o, s)
		}
	}
}

// announced is the checksum a request sends, in a header or a trailer.
func announced(h http.Header) string {
	if t := h.Get("X-Amz-Trailer"); t != "" {
		return strings.ToLower(t)
	}
	for k := range h {
		if k := strings.ToLower(k); strings.HasPrefix(k, "x-amz-checksum-") && k != "x-amz-checksum-mode" {
			return k
		}
	}
	return ""
}
