package ref

import (
	"fmt"
	"io"
	"net/http"
)

// Body sends req with client and returns the body of its 200 answer; any
// other status is an error carrying the start of the body, so a check or
// a load that got an error page says what it got.
func Body(client *http.Client, req *http.Request) ([]byte, error) {
	status, b, err := fetch(client, req)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("HTTP %d: %.200s", status, b)
	}
	return b, err
}

// NotModified sends req, a revalidation, and fails unless it is answered
// 304 with no body.
func NotModified(client *http.Client, req *http.Request) ([]byte, error) {
	status, b, err := fetch(client, req)
	if err == nil && (status != http.StatusNotModified || len(b) > 0) {
		err = fmt.Errorf("HTTP %d (%d bytes), want 304 with no body", status, len(b))
	}
	return b, err
}

// fetch sends req and reads its whole answer.
func fetch(client *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
