package harness

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// A validator that cannot fail is a defect: each case is an answer that
// drifted from the document, and each must be reported.
func TestOpenAPI_DriftIsReported(t *testing.T) {
	const room = `{"id":"r1","code":"abc-def-ghi","name":"Standup","isActive":true,"isLocked":false,` +
		`"host":{"id":"u1","displayName":"Ada","avatarUrl":null},"settings":{"waitingRoom":false}}`
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	cases := []struct {
		name, method, path, body string
		header                   http.Header
		res                      Response
		want                     string // in a problem reported; "" for none
	}{
		{name: "an answer as documented", method: "GET", path: "/rooms/code/abc-def-ghi",
			res: Response{Status: 200, Header: jsonHeader, Body: []byte(room)}},
		{name: "the same under /api", method: "GET", path: "/api/rooms/code/abc-def-ghi",
			res: Response{Status: 200, Header: jsonHeader, Body: []byte(room)}},
		{name: "an extra key in a strict answer", method: "GET", path: "/rooms/code/abc-def-ghi",
			res:  Response{Status: 200, Header: jsonHeader, Body: []byte(strings.Replace(room, `"name"`, `"hostId":"u1","name"`, 1))},
			want: "hostId"},
		{name: "a key missing", method: "GET", path: "/rooms/code/abc-def-ghi",
			res:  Response{Status: 200, Header: jsonHeader, Body: []byte(strings.Replace(room, `"isLocked":false,`, "", 1))},
			want: "isLocked"},
		{name: "a status the route does not document", method: "GET", path: "/rooms/code/abc-def-ghi",
			res:  Response{Status: 409, Header: jsonHeader, Body: []byte(`{"message":"x","error":"Conflict","statusCode":409}`)},
			want: "HTTP 409 is not in the OpenAPI document"},
		{name: "a 304 the route does not document", method: "GET", path: "/auth/me",
			header: http.Header{"Authorization": {"Bearer t"}},
			res:    Response{Status: 304, Header: http.Header{}},
			want:   "HTTP 304 is not in the OpenAPI document"},
		{name: "a 401 without its challenge", method: "GET", path: "/auth/me",
			res:  Response{Status: 401, Header: jsonHeader, Body: []byte(`{"statusCode":401,"message":"Unauthorized"}`)},
			want: "WWW-Authenticate"},
		{name: "a 429 without Retry-After", method: "GET", path: "/rooms/code/abc-def-ghi",
			res:  Response{Status: 429, Header: jsonHeader, Body: []byte(`{"message":"Too many requests","error":"Too Many Requests","statusCode":429}`)},
			want: "Retry-After"},
		{name: "a route the document lacks", method: "GET", path: "/rooms/abc/history",
			res:  Response{Status: 200, Header: jsonHeader, Body: []byte(`[]`)},
			want: "no such route"},
		{name: "a documented route the server lacks", method: "GET", path: "/api/users/u1",
			res:    Response{Status: 404, Header: jsonHeader, Body: []byte(`{"message":"Cannot GET /api/users/u1","error":"Not Found","statusCode":404}`)},
			header: http.Header{"Authorization": {"Bearer t"}},
			want:   "the server has no such route"},
		{name: "the server's answer for a route nobody has", method: "PUT", path: "/api/rooms/r1",
			res: Response{Status: 404, Header: jsonHeader, Body: []byte(`{"message":"Cannot PUT /api/rooms/r1","error":"Not Found","statusCode":404}`)}},
		{name: "a request the document refuses, taken", method: "POST", path: "/rooms", body: `{"colour":"red"}`,
			header: http.Header{"Authorization": {"Bearer t"}, "Content-Type": {"application/json"}},
			res:    Response{Status: 201, Header: jsonHeader, Body: []byte(`{}`)},
			want:   "the OpenAPI document refuses the request"},
		{name: "an unknown key refused where the document takes it", method: "POST", path: "/auth/login",
			body:   `{"email":"a@example.com","password":"correct-horse"}`,
			header: http.Header{"Content-Type": {"application/json"}},
			res:    Response{Status: 400, Header: jsonHeader, Body: []byte(`{"message":["property email should not exist"],"error":"Bad Request","statusCode":400}`)},
			want:   "the OpenAPI document takes the body"},
		{name: "GET /users/me is the profile route", method: "GET", path: "/users/me",
			header: http.Header{"Authorization": {"Bearer t"}},
			res:    Response{Status: 404, Header: jsonHeader, Body: []byte(`{"message":"User not found","error":"Not Found","statusCode":404}`)}},
		{name: "GET /rooms/code/participants is the code lookup", method: "GET", path: "/rooms/code/participants",
			res:  Response{Status: 200, Header: jsonHeader, Body: []byte(`[]`)},
			want: "disagrees"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "http://api.test"+c.path, strings.NewReader(c.body))
			for k, v := range c.header {
				req.Header[k] = v
			}
			problems := openAPIProblems(req, []byte(c.body), c.res)
			switch {
			case c.want == "" && len(problems) > 0:
				t.Errorf("reported %q", problems)
			case c.want != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }):
				t.Errorf("reported %q, want a problem naming %q", problems, c.want)
			}
		})
	}
}
