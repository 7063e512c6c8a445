package query

import "fmt"

// Error is a validation error: the request is wrong, not the server. Field is the path of
// the offending part of the request in its JSON spelling, e.g. "metrics[1].field" or
// "filter.and.filters[0].cmp.values".
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func errf(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}
