package auth

import "strings"

// Client describes who made a request, for the audit trail and the session
// list. It is filled in by the HTTP layer; the domain never sees a request.
type Client struct {
	IP        string
	UserAgent string
	RequestID string
}

// maxUserAgent bounds what is stored of a client's User-Agent header.
const maxUserAgent = 512

// NewClient builds a Client, cutting an over-long User-Agent (at a
// character boundary) once, for every place that stores it.
func NewClient(ip, userAgent, requestID string) Client {
	if len(userAgent) > maxUserAgent {
		userAgent = strings.ToValidUTF8(userAgent[:maxUserAgent], "")
	}
	return Client{IP: ip, UserAgent: userAgent, RequestID: requestID}
}
