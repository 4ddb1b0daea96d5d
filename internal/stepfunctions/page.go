package stepfunctions

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Step Functions' page sizes: maxResults 0 means the default.
const (
	defaultPage = 100
	maxPage     = 1000
)

// page is where a listing's next page starts. Its token is opaque to
// clients (base64 of this JSON); it names the request it continues so
// that one handed to another listing, or the same listing with other
// filters, is refused rather than misread.
type page struct {
	// Request is a digest of the action and the fields that choose what
	// is listed (not maxResults, which may change from page to page).
	Request string `json:"r"`
	// After is the last item of the page before: a state machine's
	// name, an execution's or an event's ID.
	After string `json:"a"`
}

// pageSize checks a request's maxResults and gives the size it means.
func pageSize(maxResults int) (int, error) {
	if maxResults < 0 || maxResults > maxPage {
		return 0, validation("maxResults %d is not between 0 and %d", maxResults, maxPage)
	}
	if maxResults == 0 {
		return defaultPage, nil
	}
	return maxResults, nil
}

// requestDigest names a listing request by its action and the fields
// that choose what it lists.
func requestDigest(action string, fields ...string) string {
	sum := sha256.Sum256([]byte(action + "\x00" + strings.Join(fields, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// nextToken is the token of the page after the item after.
func nextToken(request, after string) *string {
	b, _ := json.Marshal(page{Request: request, After: after})
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

// readToken gives where the page a token names starts: "" for no token
// (the first page), Step Functions' InvalidToken for one that is not a
// token of this request.
func readToken(token, request string) (string, error) {
	if token == "" {
		return "", nil
	}
	invalid := invalidToken()
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", invalid
	}
	var p page
	if err := json.Unmarshal(b, &p); err != nil || p.Request != request || p.After == "" {
		return "", invalid
	}
	return p.After, nil
}

// readIDToken is readToken for a listing that continues after an ID;
// ok is false for the first page.
func readIDToken(token, request string) (id int64, ok bool, err error) {
	after, err := readToken(token, request)
	if err != nil || after == "" {
		return 0, false, err
	}
	id, err = strconv.ParseInt(after, 10, 64)
	if err != nil {
		return 0, false, invalidToken()
	}
	return id, true, nil
}

// invalidToken is Step Functions' answer to a nextToken it did not give.
func invalidToken() error {
	return &apiError{"InvalidToken", "nextToken is not a token this listing gave; start again without it", http.StatusBadRequest}
}
