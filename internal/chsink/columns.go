package chsink

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/ClickHouse/ch-go/proto"
)

// newColumn is a ch-go column that decodes type t, its strings at most maxStr bytes each.
// proto.ColAuto covers the scalar types and their Array, Nullable and LowCardinality forms,
// but not maps other than Map(String, String) nor arrays of maps, which the OpenTelemetry
// tables use (Map(LowCardinality(String), String), Array(Map(...))), and its String column
// allocates whatever length a value claims: those are built here, recursively.
func newColumn(t proto.ColumnType, maxStr int) (proto.Column, error) {
	if t == proto.ColumnTypeString {
		return &boundedStr{max: maxStr}, nil
	}
	switch base := t.Base(); base {
	case proto.ColumnTypeArray, proto.ColumnTypeNullable, proto.ColumnTypeLowCardinality:
		inner, err := newColumn(t.Elem(), maxStr)
		if err != nil {
			return nil, err
		}
		if s, ok := inner.(*boundedStr); ok {
			switch base {
			case proto.ColumnTypeArray:
				return proto.NewArray[string](s), nil
			case proto.ColumnTypeNullable:
				return proto.NewColNullable[string](s), nil
			default:
				return proto.NewLowCardinality[string](s), nil
			}
		}
		if m, ok := inner.(proto.ColumnOf[map[string]string]); ok && base == proto.ColumnTypeArray {
			return proto.NewArray[map[string]string](m), nil
		}
		// ch-go's columns make their wrapped forms themselves (ColStr.Array,
		// ColUInt64.Nullable, ...), each with its own Go element type.
		method := reflect.ValueOf(inner).MethodByName(string(base))
		if method.IsValid() && method.Type().NumIn() == 0 && method.Type().NumOut() == 1 {
			if col, ok := method.Call(nil)[0].Interface().(proto.Column); ok {
				return col, nil
			}
		}
		return nil, unknownType(t)
	case proto.ColumnTypeMap:
		k, v, ok := splitPair(string(t.Elem()))
		if !ok {
			return nil, unknownType(t)
		}
		kc, err := newColumn(proto.ColumnType(k), maxStr)
		if err != nil {
			return nil, err
		}
		vc, err := newColumn(proto.ColumnType(v), maxStr)
		if err != nil {
			return nil, err
		}
		ks, kok := kc.(proto.ColumnOf[string])
		vs, vok := vc.(proto.ColumnOf[string])
		if !kok || !vok {
			return nil, &Error{Code: proto.ErrUnknownType, Message: fmt.Sprintf("chsink: %s: only maps of string keys and values are implemented", t)}
		}
		return proto.NewMap[string, string](ks, vs), nil
	}
	var auto proto.ColAuto
	if err := auto.Infer(t); err != nil {
		return nil, unknownType(t)
	}
	return auto.Data, nil
}

func unknownType(t proto.ColumnType) error {
	return &Error{Code: proto.ErrUnknownType, Message: fmt.Sprintf("chsink: decoding type %s is not implemented", t)}
}

// splitPair splits "K, V" at its one top-level comma.
func splitPair(s string) (string, string, bool) {
	depth, at := 0, -1
	for i, c := range s {
		switch {
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			if at >= 0 {
				return "", "", false
			}
			at = i
		}
	}
	if at < 0 {
		return "", "", false
	}
	k, v := strings.TrimSpace(s[:at]), strings.TrimSpace(s[at+1:])
	return k, v, k != "" && v != ""
}

// boundedStr is a String column whose decoder refuses a value longer than max before
// allocating it (proto.ColStr's allocates first).
type boundedStr struct {
	proto.ColStr
	max int
}

// DecodeColumn replaces the column's rows with rows read from r, as ColStr's does.
func (c *boundedStr) DecodeColumn(r *proto.Reader, rows int) error {
	c.Reset()
	for i := 0; i < rows; i++ {
		n, err := r.StrLen()
		if err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
		if n > c.max {
			return &Error{Code: proto.ErrTooLargeStringSize, Message: fmt.Sprintf("chsink: row %d: a string of %d bytes (at most %d)", i, n, c.max)}
		}
		start := len(c.Buf)
		c.Buf = append(c.Buf, make([]byte, n)...)
		if err := r.ReadFull(c.Buf[start:]); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
		c.Pos = append(c.Pos, proto.Position{Start: start, End: start + n})
	}
	return nil
}

// headerColumn is a column of a block header: a name and a type, no rows.
type headerColumn proto.ColumnType

func (h headerColumn) Type() proto.ColumnType   { return proto.ColumnType(h) }
func (headerColumn) Rows() int                  { return 0 }
func (headerColumn) EncodeColumn(*proto.Buffer) {}
func (headerColumn) WriteColumn(*proto.Writer)  {}
