package auth

import "errors"

// RuleError is a broken rule of a value object, before it is known which
// request field carried the value.
type RuleError struct {
	Code    string
	Message string
}

func (e *RuleError) Error() string { return e.Message }

// Field attaches a request field name to a broken rule.
func (e *RuleError) Field(name string) FieldError {
	return FieldError{Field: name, Code: e.Code, Message: e.Message}
}

// fieldErrors collects the broken rules of several fields into one Error.
type fieldErrors []FieldError

func (fe *fieldErrors) add(field string, err error) {
	if err == nil {
		return
	}
	var re *RuleError
	if errors.As(err, &re) {
		*fe = append(*fe, re.Field(field))
		return
	}
	*fe = append(*fe, FieldError{Field: field, Code: CodeInvalidInput, Message: err.Error()})
}

func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return Invalid(fe...)
}

// invalidField reports one broken rule as the request field name.
func invalidField(field string, err error) error {
	var fe fieldErrors
	fe.add(field, err)
	return fe.err()
}
