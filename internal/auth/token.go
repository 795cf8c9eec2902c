package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"time"

	"github.com/google/uuid"
)

// Purpose binds a one-time token to what it may be used for: a recovery
// token never verifies an address, and the reverse.
type Purpose string

const (
	PurposeRecovery     Purpose = "recovery"
	PurposeVerification Purpose = "verification"
	// PurposeEmailChange confirms a new address (the token's Email);
	// PurposeEmailChangeCancel undoes a change from the old one (its Email).
	PurposeEmailChange       Purpose = "email_change"
	PurposeEmailChangeCancel Purpose = "email_change_cancel"
)

// IssuedToken is what is stored of a new one-time token: hashes only.
type IssuedToken struct {
	ID            uuid.UUID
	IdentityID    uuid.UUID
	Purpose       Purpose
	Email         Email // the address the token was sent to
	TokenHash     []byte
	ExpiresAt     time.Time
	CodeHash      []byte    // verification only: the 6-digit code's hash
	CodeExpiresAt time.Time // verification only
	CreatedAt     time.Time
}

// RedeemedToken is a token that was valid and is now used.
type RedeemedToken struct {
	IdentityID uuid.UUID
	Email      Email
}

// Mail is a message to queue; the queue seals it, so the link inside never
// lies in the database in the clear.
type Mail struct {
	To       string
	Template string
	Data     map[string]string
}

// CodeResult is the outcome of submitting a verification code.
type CodeResult int

const (
	CodeAccepted CodeResult = iota
	CodeWrong               // counted; more attempts remain
	CodeVoid                // no live code, or the attempts are used up
)

// TokenStore keeps one-time tokens, as hashes only. Issue and the mail
// that carries the token go through one transaction (Transactor), so a
// token is never stored without its mail, nor mailed without being stored.
type TokenStore interface {
	// Issue voids the identity's unused tokens of the same purpose and
	// stores t.
	Issue(ctx context.Context, t IssuedToken) error
	// IssueAlongside stores t and leaves the identity's other tokens of
	// its purpose usable: each notice of an e-mail change keeps its own
	// "this was not me" link.
	IssueAlongside(ctx context.Context, t IssuedToken) error
	// Lookup finds the unused, unexpired token with that hash and purpose
	// without using it. Anything else is ErrTokenInvalid.
	Lookup(ctx context.Context, p Purpose, tokenHash []byte, now time.Time) (RedeemedToken, error)
	// Redeem marks the unused, unexpired token with that hash and purpose
	// as used; of concurrent redeems of one token at most one succeeds.
	// Anything else is ErrTokenInvalid.
	Redeem(ctx context.Context, p Purpose, tokenHash []byte, now time.Time) (RedeemedToken, error)
	// Void marks the identity's unused tokens of the purpose as used, so
	// that no link mailed before works any more.
	Void(ctx context.Context, identityID uuid.UUID, p Purpose, at time.Time) error
	// SubmitCode checks a verification code of the identity; a wrong code
	// counts an attempt, and the code is void after maxAttempts.
	SubmitCode(ctx context.Context, identityID uuid.UUID, codeHash []byte, maxAttempts int, now time.Time) (CodeResult, RedeemedToken, error)
}

// Outbox queues mail for delivery. Inside a transaction the mail is queued
// exactly when the rows written with it commit.
type Outbox interface {
	Queue(ctx context.Context, m Mail) error
	// QueueRequest keeps a request for a mail to an address that may have
	// no account, to be answered (AnswerMailRequest) after the client has
	// had its reply. Durable: a request queued is answered even if this
	// instance dies.
	QueueRequest(ctx context.Context, r MailRequest) error
	// DiscardMailTo drops the mails and mail requests to the address that
	// are still waiting (not the one being sent at this moment), and says
	// how many: a deleted account's mail is not sent after it is gone.
	DiscardMailTo(ctx context.Context, address Email) (int, error)
}

// MailRequest is a request for a recovery link (PurposeRecovery) or a new
// verification link (PurposeVerification) to an address. It is answered
// apart from the request that made it, so that the reply costs the same
// whether the address has an account or not: looking the account up,
// issuing a token and queuing its mail are work only a known address
// would cost.
type MailRequest struct {
	Purpose     Purpose
	Email       Email
	Client      Client
	RequestedAt time.Time
}

// ErrTokenInvalid is the one answer for an unknown, used, expired or voided
// token, so that the reply reveals nothing about which it was.
var ErrTokenInvalid = &Error{Kind: KindGone, Code: CodeTokenInvalid,
	Message: "This link or code is invalid or has expired. Request a new one."}

// newToken returns a 256-bit random token for a link and its SHA-256.
func newToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is how one-time tokens are stored and looked up.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// newCode returns a 6-digit code.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	s := n.String()
	for len(s) < 6 {
		s = "0" + s
	}
	return s, nil
}

// hashCode binds a code to its identity and to the server's code key: the
// same six digits of two users hash differently, a code is only looked up
// for its owner, and with a million possible codes an unkeyed hash would
// be reversed at once by anyone who reads the table.
func (s *Service) hashCode(identityID uuid.UUID, code string) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	m.Write([]byte(identityID.String() + ":" + code))
	return m.Sum(nil)
}
