package auth

// Client describes who made a request, for the audit trail and the session
// list. It is filled in by the HTTP layer; the domain never sees a request.
type Client struct {
	IP        string
	UserAgent string
	RequestID string
}
