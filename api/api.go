// Package api holds the OpenAPI 3 document of authd's HTTP interface.
//
// The document (openapi.yaml, embedded as OpenAPI) is the contract of the
// server: the server serves it at GET /api/v1/openapi.yaml, and the HTTP
// tests validate every response they receive against it, so the document
// and the server cannot drift apart.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.0.3 document of the server, as YAML.
//
//go:embed openapi.yaml
var OpenAPI []byte

// AdminOpenAPI is the OpenAPI 3.0.3 document of the admin API, served on
// the admin listener at GET /admin/v1/openapi.yaml and checked against
// every response of its tests like the public one.
//
//go:embed admin-openapi.yaml
var AdminOpenAPI []byte
