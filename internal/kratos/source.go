// Package kratos reads an Ory Kratos v1.x PostgreSQL database (v1.1 to
// v1.3) as a source for `authd import kratos`: its tables and the JSON of
// its traits and credentials are this package's wire format, turned here
// into the domain's ImportedIdentity.
package kratos

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp"

	"github.com/authd/authd/internal/auth"
)

// Source reads identities from a Kratos database.
type Source struct {
	pool *pgxpool.Pool
	// rpIDHash is the SHA-256 of authd's WebAuthn RP ID: a Kratos passkey
	// works in authd only if it was made for the same RP ID.
	rpIDHash [32]byte
	// kratosRPID is the RP ID Kratos was configured with, if the operator
	// gave it: it decides for passkeys whose stored attestation does not
	// say.
	kratosRPID string
	rpID       string
}

var _ auth.ImportSource = (*Source)(nil)

// Config says where the Kratos database is and which RP IDs to compare.
type Config struct {
	URL string
	// RPID is authd's WebAuthn RP ID (the host of PUBLIC_URL).
	RPID string
	// KratosRPID is selfservice.methods.webauthn.config.rp.id of the
	// Kratos configuration ("" when unknown).
	KratosRPID string
}

// Open connects to the Kratos database and checks that its schema is one
// this package reads.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("kratos: --from is not a PostgreSQL URL: %w", redact(err))
	}
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("kratos: %w", redact(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("kratos: cannot reach the Kratos database: %w", redact(err))
	}
	s := &Source{pool: pool, rpIDHash: sha256.Sum256([]byte(cfg.RPID)), kratosRPID: cfg.KratosRPID, rpID: cfg.RPID}
	if err := s.checkSchema(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connections.
func (s *Source) Close() { s.pool.Close() }

// redact keeps a connection string's password out of an error.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New("the URL cannot be parsed")
	}
	return err
}

// schema is every table and column the import reads, as Kratos v1.1–v1.3
// create them.
var schema = map[string][]string{
	"identities":                      {"id", "traits", "state", "created_at"},
	"identity_credential_types":       {"id", "name"},
	"identity_credentials":            {"id", "identity_id", "identity_credential_type_id", "config"},
	"identity_credential_identifiers": {"identifier", "identity_credential_id"},
	"identity_verifiable_addresses":   {"identity_id", "via", "value", "verified", "verified_at"},
	"identity_recovery_addresses":     {"identity_id", "via", "value"},
}

// ErrUnknownSchema is what Open fails with on a database that is not a
// Kratos v1.1–v1.3 one; the message names what is missing.
var ErrUnknownSchema = errors.New("kratos: the database does not have the schema of Kratos v1.1–v1.3")

func (s *Source) checkSchema(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ANY($1)`, tableNames())
	if err != nil {
		return fmt.Errorf("kratos: read the schema: %w", err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			return fmt.Errorf("kratos: read the schema: %w", err)
		}
		have[table+"."+column] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("kratos: read the schema: %w", err)
	}
	var missing []string
	for _, table := range tableNames() {
		for _, column := range schema[table] {
			if !have[table+"."+column] {
				missing = append(missing, table+"."+column)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s; nothing was imported", ErrUnknownSchema, strings.Join(missing, ", "))
	}
	return nil
}

func tableNames() []string {
	var out []string
	for t := range schema {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Count is the number of identities in the Kratos database.
func (s *Source) Count(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM identities`).Scan(&n)
	return n, err
}

type identityRow struct {
	id        uuid.UUID
	traits    []byte
	state     string
	createdAt time.Time
}

type credentialRow struct {
	kind        string
	config      []byte
	identifiers []string
}

type addressRow struct {
	via, value string
	verified   bool
	verifiedAt *time.Time
}

// Next reads n identities after the id given, with their credentials and
// addresses, in four queries.
func (s *Source) Next(ctx context.Context, after uuid.UUID, n int) ([]auth.ImportedIdentity, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, traits, state, created_at FROM identities WHERE id > $1 ORDER BY id LIMIT $2`, after, n)
	if err != nil {
		return nil, fmt.Errorf("kratos: read identities: %w", err)
	}
	var ids []uuid.UUID
	var idents []identityRow
	for rows.Next() {
		var r identityRow
		if err := rows.Scan(&r.id, &r.traits, &r.state, &r.createdAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("kratos: read identities: %w", err)
		}
		idents = append(idents, r)
		ids = append(ids, r.id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("kratos: read identities: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	creds, err := s.credentials(ctx, ids)
	if err != nil {
		return nil, err
	}
	verifiable, err := s.addresses(ctx, `SELECT identity_id, via, value, verified, verified_at FROM identity_verifiable_addresses WHERE identity_id = ANY($1)`, ids, true)
	if err != nil {
		return nil, err
	}
	recovery, err := s.addresses(ctx, `SELECT identity_id, via, value, false, NULL::timestamp FROM identity_recovery_addresses WHERE identity_id = ANY($1)`, ids, false)
	if err != nil {
		return nil, err
	}
	out := make([]auth.ImportedIdentity, len(idents))
	for i, r := range idents {
		out[i] = s.convert(r, creds[r.id], verifiable[r.id], recovery[r.id])
	}
	return out, nil
}

func (s *Source) credentials(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]credentialRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.identity_id, t.name, c.config,
			COALESCE(array_agg(i.identifier ORDER BY i.identifier) FILTER (WHERE i.identifier IS NOT NULL), '{}')
		FROM identity_credentials c
		JOIN identity_credential_types t ON t.id = c.identity_credential_type_id
		LEFT JOIN identity_credential_identifiers i ON i.identity_credential_id = c.id
		WHERE c.identity_id = ANY($1)
		GROUP BY c.id, c.identity_id, t.name, c.config`, ids)
	if err != nil {
		return nil, fmt.Errorf("kratos: read credentials: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID][]credentialRow{}
	for rows.Next() {
		var id uuid.UUID
		var c credentialRow
		if err := rows.Scan(&id, &c.kind, &c.config, &c.identifiers); err != nil {
			return nil, fmt.Errorf("kratos: read credentials: %w", err)
		}
		out[id] = append(out[id], c)
	}
	return out, rows.Err()
}

func (s *Source) addresses(ctx context.Context, q string, ids []uuid.UUID, verifiable bool) (map[uuid.UUID][]addressRow, error) {
	what := "recovery"
	if verifiable {
		what = "verifiable"
	}
	rows, err := s.pool.Query(ctx, q, ids)
	if err != nil {
		return nil, fmt.Errorf("kratos: read %s addresses: %w", what, err)
	}
	defer rows.Close()
	out := map[uuid.UUID][]addressRow{}
	for rows.Next() {
		var id uuid.UUID
		var a addressRow
		if err := rows.Scan(&id, &a.via, &a.value, &a.verified, &a.verifiedAt); err != nil {
			return nil, fmt.Errorf("kratos: read %s addresses: %w", what, err)
		}
		out[id] = append(out[id], a)
	}
	return out, rows.Err()
}

// Kratos' credential configurations, as it stores them (identity/
// credentials_*.go in the Kratos source).
type (
	passwordConfig struct {
		HashedPassword string `json:"hashed_password"`
	}
	totpConfig struct {
		TOTPURL string `json:"totp_url"`
	}
	lookupConfig struct {
		RecoveryCodes []struct {
			Code   string     `json:"code"`
			UsedAt *time.Time `json:"used_at"`
		} `json:"recovery_codes"`
	}
	webauthnConfig struct {
		Credentials []webauthnCredential `json:"credentials"`
		UserHandle  []byte               `json:"user_handle"`
	}
	webauthnCredential struct {
		ID              []byte    `json:"id"`
		PublicKey       []byte    `json:"public_key"`
		AttestationType string    `json:"attestation_type"`
		DisplayName     string    `json:"display_name"`
		AddedAt         time.Time `json:"added_at"`
		Transport       []string  `json:"transport"`
		Authenticator   *struct {
			AAGUID    []byte `json:"aaguid"`
			SignCount uint32 `json:"sign_count"`
		} `json:"authenticator"`
		Flags *struct {
			UserVerified   bool `json:"user_verified"`
			BackupEligible bool `json:"backup_eligible"`
			BackupState    bool `json:"backup_state"`
		} `json:"flags"`
		Attestation *struct {
			AuthenticatorData []byte `json:"authenticator_data"`
		} `json:"attestation"`
	}
	traits struct {
		Email       string `json:"email"`
		Username    string `json:"username"`
		GeoLocation string `json:"geo_location"`
	}
)

// convert maps one Kratos identity to authd's.
func (s *Source) convert(r identityRow, creds []credentialRow, verifiable, recovery []addressRow) auth.ImportedIdentity {
	// The id is set even on an identity refused below: the import reads
	// on after the last id of a batch.
	out := auth.ImportedIdentity{Identity: auth.Identity{ID: r.id}}
	var tr traits
	if err := json.Unmarshal(r.traits, &tr); err != nil {
		out.Reject = "traits are not a JSON object"
		return out
	}
	id := auth.Identity{ID: r.id, State: auth.StateActive, CreatedAt: r.createdAt.UTC().Truncate(time.Microsecond)}
	id.UpdatedAt = id.CreatedAt
	switch r.state {
	case "active", "":
	case "inactive":
		id.State = auth.StateInactive
	default:
		out.Notes = append(out.Notes, "unknown Kratos state: imported as active")
	}

	// The e-mail is the password's identifier; without a password, the
	// traits' e-mail, else a verifiable or recovery address by e-mail.
	rawEmail := ""
	for _, c := range creds {
		if c.kind == "password" && len(c.identifiers) > 0 {
			rawEmail = c.identifiers[0]
		}
	}
	if rawEmail == "" {
		rawEmail = tr.Email
	}
	for _, list := range [][]addressRow{verifiable, recovery} {
		for _, a := range list {
			if rawEmail == "" && a.via == "email" {
				rawEmail = a.value
			}
		}
	}
	email, err := auth.ParseEmail(strings.ToLower(strings.TrimSpace(rawEmail)))
	if err != nil {
		out.Reject = "no e-mail address authd accepts"
		return out
	}
	id.Email = email
	for _, a := range verifiable {
		if a.via != "email" || !a.verified {
			continue
		}
		if e, err := auth.ParseEmail(strings.ToLower(a.value)); err == nil && e == email {
			at := id.CreatedAt
			if a.verifiedAt != nil {
				at = a.verifiedAt.UTC().Truncate(time.Microsecond)
			}
			id.EmailVerifiedAt = &at
		}
	}
	if tr.Username != "" {
		if u, err := auth.ParseUsername(tr.Username); err == nil {
			id.Username = u
		} else {
			out.Notes = append(out.Notes, "username not valid in authd: imported without it")
		}
	}
	if tr.GeoLocation != "" {
		if g, err := auth.ParseGeoLocation(tr.GeoLocation); err == nil {
			id.GeoLocation = g
		} else {
			out.Notes = append(out.Notes, "geo_location not valid in authd: imported without it")
		}
	}

	for _, c := range creds {
		switch c.kind {
		case "password":
			var pc passwordConfig
			if err := json.Unmarshal(c.config, &pc); err != nil {
				out.Notes = append(out.Notes, "password credential unreadable: imported without a password")
				continue
			}
			if supportedHash(pc.HashedPassword) {
				id.PasswordHash = pc.HashedPassword
			} else if pc.HashedPassword != "" {
				out.Notes = append(out.Notes, "password hash algorithm "+hashAlgorithm(pc.HashedPassword)+" not supported: imported without a password")
			}
		case "totp":
			s.convertTOTP(c.config, &out)
		case "lookup_secret":
			var lc lookupConfig
			if err := json.Unmarshal(c.config, &lc); err != nil {
				out.Notes = append(out.Notes, "lookup_secret credential unreadable: codes not imported")
				continue
			}
			for _, code := range lc.RecoveryCodes {
				if code.Code != "" && (code.UsedAt == nil || code.UsedAt.IsZero()) {
					out.RecoveryCodes = append(out.RecoveryCodes, code.Code)
				}
			}
		case "webauthn", "passkey":
			s.convertWebAuthn(c.config, &out)
		}
	}
	out.Identity = id
	return out
}

// supportedHash says whether authd verifies the hash: bcrypt ($2a$, $2b$,
// any cost) and Argon2id or Argon2i in PHC form, as Kratos writes them.
func supportedHash(h string) bool {
	for _, p := range []string{"$2a$", "$2b$", "$2y$", "$argon2id$", "$argon2i$"} {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}

// hashAlgorithm names a hash's algorithm for the report, never more.
func hashAlgorithm(h string) string {
	if !strings.HasPrefix(h, "$") {
		return "unknown"
	}
	name, _, _ := strings.Cut(h[1:], "$")
	if name == "" || len(name) > 16 {
		return "unknown"
	}
	return name
}

func (s *Source) convertTOTP(config []byte, out *auth.ImportedIdentity) {
	var tc totpConfig
	if err := json.Unmarshal(config, &tc); err != nil || tc.TOTPURL == "" {
		out.Notes = append(out.Notes, "totp credential unreadable: not imported")
		return
	}
	key, err := otp.NewKeyFromURL(tc.TOTPURL)
	if err != nil || key.Secret() == "" {
		out.Notes = append(out.Notes, "totp_url unreadable: TOTP not imported")
		return
	}
	// authd's TOTP is SHA-1, 6 digits, 30 s (what Kratos uses too); a
	// secret made for other parameters would give other codes.
	if key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		out.Notes = append(out.Notes, "TOTP with parameters other than SHA-1/6 digits/30 s: not imported")
		return
	}
	out.TOTPSecret = strings.ToUpper(key.Secret())
}

func (s *Source) convertWebAuthn(config []byte, out *auth.ImportedIdentity) {
	var wc webauthnConfig
	if err := json.Unmarshal(config, &wc); err != nil {
		out.Notes = append(out.Notes, "webauthn credential unreadable: passkeys not imported")
		return
	}
	for _, c := range wc.Credentials {
		if len(c.ID) == 0 || len(c.PublicKey) == 0 {
			out.Notes = append(out.Notes, "passkey without id or public key: skipped")
			continue
		}
		if reason := s.rpMismatch(c); reason != "" {
			out.Notes = append(out.Notes, reason)
			continue
		}
		if len(wc.UserHandle) < 16 || len(wc.UserHandle) > 64 {
			out.Notes = append(out.Notes, "passkey user handle not 16 to 64 bytes: skipped")
			continue
		}
		name := strings.TrimSpace(c.DisplayName)
		if name == "" || len([]rune(name)) > 64 {
			name = "Passkey"
		}
		p := auth.Passkey{Name: name, NewPasskey: auth.NewPasskey{CredentialID: c.ID, PublicKey: c.PublicKey,
			AttestationType: c.AttestationType, Transports: c.Transport}}
		if !c.AddedAt.IsZero() {
			p.CreatedAt = c.AddedAt.UTC().Truncate(time.Microsecond)
		}
		if c.Authenticator != nil {
			p.AAGUID, p.SignCount = c.Authenticator.AAGUID, c.Authenticator.SignCount
		}
		if c.Flags != nil {
			p.UserVerified, p.BackupEligible, p.BackupState = c.Flags.UserVerified, c.Flags.BackupEligible, c.Flags.BackupState
		}
		out.PasskeyUserHandle = wc.UserHandle
		out.Passkeys = append(out.Passkeys, p)
	}
}

// rpMismatch says why a Kratos passkey would not work with authd's RP ID,
// or "". The authenticator data Kratos keeps from the registration starts
// with the SHA-256 of the RP ID it was made for; without it, the Kratos
// RP ID the operator gave decides.
func (s *Source) rpMismatch(c webauthnCredential) string {
	if c.Attestation != nil && len(c.Attestation.AuthenticatorData) >= 32 {
		if [32]byte(c.Attestation.AuthenticatorData[:32]) != s.rpIDHash {
			return "passkey made for another RP ID than authd's: skipped"
		}
		return ""
	}
	switch {
	case s.kratosRPID == "":
		return "passkey whose RP ID is unknown (no stored attestation; pass --kratos-rp-id): skipped"
	case s.kratosRPID != s.rpID:
		return "passkey made for another RP ID than authd's: skipped"
	}
	return ""
}
