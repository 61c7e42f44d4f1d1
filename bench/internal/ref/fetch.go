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
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	return b, nil
}

// NotModified sends req, a revalidation, and fails unless it is answered
// 304 with no body.
func NotModified(client *http.Client, req *http.Request) ([]byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusNotModified || len(b) > 0 {
		return b, fmt.Errorf("HTTP %d (%d bytes), want 304 with no body", resp.StatusCode, len(b))
	}
	return nil, nil
}
