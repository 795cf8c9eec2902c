package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/internal/auth"
)

// maxJSONDepth bounds nesting; no request of this API nests more than two
// levels, and deep documents are a cheap way to burn CPU.
const maxJSONDepth = 8

// decodeJSON reads the request body strictly into dst: JSON media type,
// valid UTF-8, one object, no duplicate or unknown keys, no trailing data.
func decodeJSON(c echo.Context, dst any) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &requestError{status: http.StatusUnsupportedMediaType, code: codeUnsupportedMedia, detail: "Send the body as application/json."}
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &requestError{status: http.StatusRequestEntityTooLarge, code: codeBodyTooLarge, detail: "The request body is too large."}
		}
		return &requestError{status: http.StatusBadRequest, code: codeMalformedJSON, detail: "The request body could not be read."}
	}
	return decodeBody(body, dst)
}

// decodeBody is decodeJSON without the HTTP exchange, for the fuzz test.
func decodeBody(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return malformed("The body is not valid UTF-8.")
	}
	if hasLoneSurrogate(body) {
		// encoding/json would silently turn it into U+FFFD, so the value
		// stored would not be the value sent.
		return malformed("The body has a \\u escape of half a UTF-16 surrogate pair.")
	}
	if err := checkShape(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed("The body must hold exactly one JSON object.")
	}
	return nil
}

// checkShape walks the tokens once: the top level must be an object, keys
// may not repeat (encoding/json would silently keep the last one, which
// lets two parsers disagree about a request), and nesting is bounded.
func checkShape(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object    bool
		keys      map[string]struct{}
		expectKey bool
	}
	var stack []*frame
	first := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if first {
				return malformed("The body is empty; send a JSON object.")
			}
			return nil
		}
		if err != nil {
			return malformed("The body is not valid JSON.")
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return malformed("The body must be a JSON object.")
			}
			first = false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if key, ok := tok.(string); ok {
				// encoding/json matches keys to fields ignoring case, so
				// "identifier" and "IDENTIFIER" are the same key to it.
				folded := foldKey(key)
				if _, dup := top.keys[folded]; dup {
					return malformed("The key " + strconv.Quote(key) + " appears twice.")
				}
				top.keys[folded] = struct{}{}
				top.expectKey = false
				continue
			}
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				if top != nil && top.object {
					top.expectKey = true
				}
				if len(stack) >= maxJSONDepth {
					return malformed("The body is nested too deeply.")
				}
				stack = append(stack, &frame{object: d == '{', keys: map[string]struct{}{}, expectKey: d == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					// Anything after the top-level object is reported by the decoder.
					return nil
				}
			}
		default:
			if top != nil && top.object {
				top.expectKey = true
			}
		}
	}
}

// foldKey is a key as encoding/json compares it to field names: case
// folded, with the Kelvin sign and the long s folding to k and s.
func foldKey(k string) string { return strings.ToLower(strings.ToUpper(k)) }

// hasLoneSurrogate reports a \u escape of a UTF-16 surrogate that is not
// part of a high-low pair. Backslashes occur only inside JSON strings, so a
// scan of the raw bytes suffices; the body is checked for validity apart.
func hasLoneSurrogate(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' || i+1 >= len(body) {
			continue
		}
		if body[i+1] != 'u' {
			i++ // an escaped character, possibly a backslash
			continue
		}
		r, ok := hex4(body, i+2)
		i += 5
		if !ok || r < 0xD800 || r > 0xDFFF {
			continue
		}
		if r >= 0xDC00 {
			return true // a low half without a high one before it
		}
		if i+6 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
			return true
		}
		low, ok := hex4(body, i+3)
		if !ok || low < 0xDC00 || low > 0xDFFF {
			return true
		}
		i += 6
	}
	return false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return rune(n), err == nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return malformed("The body must be a JSON object.")
		}
		msg := "Must be a " + jsonKind(typeErr.Type.Kind().String()) + "."
		return invalidFields(auth.FieldError{Field: field, Code: "invalid_type", Message: msg})
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		field, _ := strconv.Unquote(strings.TrimPrefix(msg, "json: unknown field "))
		return invalidFields(auth.FieldError{Field: field, Code: "unknown_field", Message: "This field is not accepted."})
	}
	return malformed("The body is not valid JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}

func malformed(detail string) error {
	return &requestError{status: http.StatusBadRequest, code: codeMalformedJSON, detail: detail}
}

func invalidFields(fields ...auth.FieldError) error {
	return &requestError{status: http.StatusUnprocessableEntity, code: auth.CodeInvalidInput, detail: fields[0].Message, fields: fields}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}
