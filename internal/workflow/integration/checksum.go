package integration

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
)

// S3's flexible checksums, as the AWS SDKs handle them by default
// against AWS (and only where the API requires them against other
// endpoints, which emulators often do not support): PutObject sends a
// checksum of its body (CRC32 unless ChecksumAlgorithm names another),
// GetObject asks for the object's and checks the body against it.

// crc64NVME is CRC-64/NVME's polynomial, reversed as crc64.MakeTable
// wants it.
const crc64NVME = 0x9a6c9329ac4bc9b5

// checksumAlgorithms are the algorithms a GetObject response's checksum
// may use, in the order the SDK looks for them (the last one present
// wins).
var checksumAlgorithms = []string{"CRC64NVME", "CRC32", "CRC32C", "SHA256", "SHA1", "SHA512", "MD5"}

func checksumHash(algorithm string) (hash.Hash, bool) {
	switch algorithm {
	case "CRC32":
		return crc32.NewIEEE(), true
	case "CRC32C":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), true
	case "CRC64NVME":
		return crc64.New(crc64.MakeTable(crc64NVME)), true
	case "SHA1":
		return sha1.New(), true
	case "SHA256":
		return sha256.New(), true
	case "SHA512":
		return sha512.New(), true
	case "MD5":
		return md5.New(), true
	}
	return nil, false
}

func checksum(algorithm string, b []byte) (string, error) {
	h, ok := checksumHash(algorithm)
	if !ok {
		return "", fmt.Errorf("the checksum algorithm %s is not supported", algorithm)
	}
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// addChecksums adds the checksum headers of an S3 request.
func (c *Client) addChecksums(action string, r *request) error {
	switch action {
	case "putObject":
		algorithm := strings.ToUpper(r.header.Get("X-Amz-Sdk-Checksum-Algorithm"))
		if algorithm == "" && c.endpoint != "" {
			return nil
		}
		for k := range r.header {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
				return nil // given with the parameters
			}
		}
		if algorithm == "" {
			algorithm = "CRC32"
		}
		sum, err := checksum(algorithm, r.body)
		if err != nil {
			return err
		}
		r.header.Set("X-Amz-Sdk-Checksum-Algorithm", algorithm)
		r.header.Set("X-Amz-Checksum-"+algorithm, sum)
	case "getObject":
		if c.endpoint == "" && r.header.Get("X-Amz-Checksum-Mode") == "" {
			r.header.Set("X-Amz-Checksum-Mode", "ENABLED")
		}
	}
	return nil
}

// checkChecksum checks a GetObject response's body against the
// checksum the response gives, when the request asked for one. Checksums
// of multipart objects (a checksum of the parts' checksums, "...-N") are
// not checked, as the SDKs do not.
func checkChecksum(r *request, resp *response) error {
	if !strings.EqualFold(r.header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		return nil
	}
	algorithm, want := "", ""
	for _, a := range checksumAlgorithms {
		if v := resp.header.Get("X-Amz-Checksum-" + a); v != "" {
			algorithm, want = a, v
		}
	}
	if want == "" || strings.Contains(want, "-") {
		return nil
	}
	got, err := checksum(algorithm, resp.body)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("checksum did not match: the object's %s is %s, the body's %s", algorithm, want, got)
	}
	return nil
}
