package ref

import (
	"bytes"
	"fmt"
	"net/http"
)

// Body sends req with client and returns the body of its 200 answer; any
// other status is an error carrying the start of the body, so a check or
// a load that got an error page says what it got.
func Body(client *http.Client, req *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	err := BodyInto(client, req, &buf)
	return buf.Bytes(), err
}

// NotModified sends req, a revalidation, and fails unless it is answered
// 304 with no body.
func NotModified(client *http.Client, req *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	err := NotModifiedInto(client, req, &buf)
	return buf.Bytes(), err
}

// BodyInto is Body reading the answer into buf (emptied first): a load
// generator's connection reuses one buffer, so reading a 70 kB answer
// thousands of times a second costs it no garbage. Growing a fresh slice
// per answer, as io.ReadAll does, made the load generator take CPU from
// the servers it measures, the fastest ones most.
func BodyInto(client *http.Client, req *http.Request, buf *bytes.Buffer) error {
	status, err := fetch(client, req, buf)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("HTTP %d: %.200s", status, buf.Bytes())
	}
	return err
}

// NotModifiedInto is NotModified reading into buf, as BodyInto does.
func NotModifiedInto(client *http.Client, req *http.Request, buf *bytes.Buffer) error {
	status, err := fetch(client, req, buf)
	if err == nil && (status != http.StatusNotModified || buf.Len() > 0) {
		err = fmt.Errorf("HTTP %d (%d bytes), want 304 with no body", status, buf.Len())
	}
	return err
}

// fetch sends req and reads its whole answer into buf.
func fetch(client *http.Client, req *http.Request, buf *bytes.Buffer) (int, error) {
	buf.Reset()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = buf.ReadFrom(resp.Body)
	return resp.StatusCode, err
}
