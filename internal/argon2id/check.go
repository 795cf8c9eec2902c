package argon2id

// CheckEncoded says whether Verify can check passwords against encoded (a
// bcrypt hash or an Argon2id or Argon2i PHC string within Verify's
// bounds), without hashing anything: for hashes brought in from
// elsewhere, before they are stored. Errors wrap ErrMalformedHash and
// never quote the hash.
func CheckEncoded(encoded string) error {
	if isBcrypt(encoded) {
		_, err := bcryptCost(encoded)
		return err
	}
	_, err := ParsePHC(encoded)
	return err
}
