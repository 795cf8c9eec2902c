// Package auth is the domain of authd: identities, their credentials and the
// rules that govern registering, logging in and reading the current user.
//
// It holds the value objects (Email, Password, Username, GeoLocation), the
// Identity entity, the Error type whose Kind the HTTP layer maps to a status
// in one place, and the Service whose methods are the use cases. The ports
// the Service needs (IdentityStore, PasswordHasher) are declared here and
// implemented by the adapters in sibling packages.
package auth
