package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/strictjson"
)

// postTransport is gqlgen's POST transport (same content negotiation, status
// codes and error bodies) with one difference: it writes the response's data
// as the executor produced it instead of passing the whole response through
// json.Marshal, which re-validates and re-compacts every byte of an
// already-compact document. For the 60 kB dashboard answer that
// re-compaction was a third of the request's CPU.
//
// It also serves the queries answerCache may answer from memory.
type postTransport struct {
	transport.POST
	answers *answerCache // nil: no response cache
}

var _ graphql.Transport = postTransport{}

const (
	contentTypeJSON            = "application/json"
	contentTypeGraphQLResponse = "application/graphql-response+json"
)

// Do implements graphql.Transport.
func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseContentType(r)
	w.Header().Set("Content-Type", contentType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeResponse(w, http.StatusOK, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %+v", err)}))
		return
	}
	// What serveKnown read of the viewer, for serve: it is read once.
	var viewer *viewerAt
	if t.answers != nil {
		var served bool
		if served, viewer = t.answers.serveKnown(ctx, w, r, body, contentType); served {
			return
		}
	}
	var params graphql.RawParams
	if err := decodeParams(body, &params); err != nil {
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{err}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	opCtx, opErr := exec.CreateOperationContext(ctx, &params)
	if opErr != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = protocolErrorStatus(contentType)
		}
		writeResponse(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), opErr))
		return
	}
	if opCtx.Operation.Operation == ast.Subscription {
		// A plain POST answers once, and a subscription would hold the
		// request (its admission slot, its connection) until its first
		// event, which an attacker's quiet room never sends. Refused before
		// the resolver subscribes to anything.
		writeResponse(w, protocolErrorStatus(contentType), exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), gqlerror.List{streamRequiredError()}))
		return
	}
	if t.answers != nil && t.answers.serve(ctx, w, r, exec, opCtx, contentType, body, viewer) {
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	writeResponse(w, http.StatusOK, responses(ctx))
}

// decodeParams decodes a POSTed GraphQL request as gqlgen does (numbers
// kept as json.Number), but strictly: nothing may follow the JSON value,
// no object may repeat a key (which would take the last, unlike some
// parsers before us), and "Query" is not "query" (see strictjson). Its
// error names what was wrong, never the body: a body that does not decode
// may still hold a password, and gqlgen's transports quote it whole, in
// the answer and in the standard logger.
func decodeParams(body []byte, params *graphql.RawParams) *gqlerror.Error {
	if err := strictjson.Unmarshal(body, params, strictjson.Options{UseNumber: true}); err != nil {
		return gqlerror.Errorf("json request body could not be decoded: %+v", err)
	}
	return nil
}

func streamRequiredError() *gqlerror.Error {
	err := gqlerror.Errorf("subscriptions need a streaming transport: a websocket (graphql-transport-ws) or POST with Accept: text/event-stream")
	errcode.Set(err, string(apperr.StreamingTransportRequired))
	return err
}

// protocolErrorStatus is the status of a request refused before execution:
// 422 for application/json (gqlgen's choice), 400 for
// application/graphql-response+json (the GraphQL-over-HTTP spec's).
func protocolErrorStatus(contentType string) int {
	if contentType == contentTypeGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

// responseContentType follows gqlgen's negotiation: application/json
// unless the client asks for application/graphql-response+json.
func responseContentType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return contentTypeJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", contentTypeJSON:
			return contentTypeJSON
		case contentTypeGraphQLResponse:
			return contentTypeGraphQLResponse
		}
	}
	return contentTypeGraphQLResponse
}

// writeResponse writes resp as the body of a response with status. Its
// length is known before the first byte, so it goes out with a
// Content-Length: a chunked body costs its framing and, for the last chunk,
// one more write to the socket.
func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response) {
	if resp == nil {
		w.WriteHeader(status)
		return
	}
	pieces := responsePieces(resp)
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(status)
	for _, p := range pieces {
		_, _ = w.Write(p)
	}
}

// responsePieces is resp as {"errors":…,"data":…,"extensions":…}, the
// field order and omissions of graphql.Response's JSON encoding, in pieces
// so that Data, possibly large, is never copied. Incremental-delivery
// fields never occur on POST; should one appear, the whole response goes
// through json.Marshal as before.
func responsePieces(resp *graphql.Response) [3][]byte {
	if resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		b, err := json.Marshal(resp)
		if err != nil {
			panic(fmt.Errorf("marshal GraphQL response: %w", err))
		}
		return [3][]byte{b}
	}
	head := make([]byte, 0, 64)
	head = append(head, '{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			panic(fmt.Errorf("marshal GraphQL errors: %w", err))
		}
		head = append(head, `"errors":`...)
		head = append(head, errs...)
		head = append(head, ',')
	}
	head = append(head, `"data":`...)
	if resp.Data == nil {
		head = append(head, "null"...)
	}
	tail := make([]byte, 0, 16)
	if len(resp.Extensions) > 0 {
		ext, err := json.Marshal(resp.Extensions)
		if err != nil {
			panic(fmt.Errorf("marshal GraphQL extensions: %w", err))
		}
		tail = append(tail, `,"extensions":`...)
		tail = append(tail, ext...)
	}
	tail = append(tail, '}')
	return [3][]byte{head, resp.Data, tail}
}
