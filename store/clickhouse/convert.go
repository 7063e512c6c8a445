package clickhouse

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/olapgate/olapgate/store"
)

// ConvertValue turns a value as read from a ClickHouse result column into the Go type of a
// result column type (store.Result's rules). v is nil (NULL) or one of the Go types ch-go
// columns hold for the types olapgate's SQL yields: int8-int64, uint8-uint64 (count() and
// uniq are UInt64), float32 (quantileTDigest), float64, string, bool, time.Time.
// It is exported so the chdb check converts its answers by the same rules.
func ConvertValue(v any, t store.ColumnType) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case store.TypeInt64:
		return toInt64(v)
	case store.TypeDouble:
		return toFloat64(v)
	case store.TypeString:
		switch x := v.(type) {
		case string:
			return x, nil
		case bool:
			return strconv.FormatBool(x), nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case float32:
			return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
		case uint64:
			return strconv.FormatUint(x, 10), nil
		}
		if i, err := toInt64(v); err == nil {
			return strconv.FormatInt(i.(int64), 10), nil
		}
	case store.TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case uint8: // a comparison's UInt8
			if x <= 1 {
				return x == 1, nil
			}
		}
	case store.TypeTimestamp:
		if ts, ok := v.(time.Time); ok {
			return ts.UTC(), nil
		}
	default:
		return nil, fmt.Errorf("output type %d is not a result column type", t)
	}
	return nil, fmt.Errorf("cannot convert %T to %s", v, t)
}

func toInt64(v any) (any, error) {
	n, ok, err := store.Int64(v)
	switch {
	case !ok:
		return nil, fmt.Errorf("cannot convert %T to INT64", v)
	case err != nil:
		return nil, err
	}
	return n, nil
}

func toFloat64(v any) (any, error) {
	if f, ok := store.Float64(v); ok {
		return f, nil
	}
	return nil, fmt.Errorf("cannot convert %T to DOUBLE", v)
}

// columnValue reads row i of a result column decoded by ch-go's automatic inference as the Go
// value ConvertValue takes.
func columnValue(col proto.ColResult, i int) (any, error) {
	switch c := col.(type) {
	case *proto.ColNullable[string]:
		return nullable(c, i), nil
	case *proto.ColNullable[bool]:
		return nullable(c, i), nil
	case *proto.ColNullable[int64]:
		return nullable(c, i), nil
	case *proto.ColNullable[int32]:
		return nullable(c, i), nil
	case *proto.ColNullable[int16]:
		return nullable(c, i), nil
	case *proto.ColNullable[int8]:
		return nullable(c, i), nil
	case *proto.ColNullable[uint64]:
		return nullable(c, i), nil
	case *proto.ColNullable[uint32]:
		return nullable(c, i), nil
	case *proto.ColNullable[uint16]:
		return nullable(c, i), nil
	case *proto.ColNullable[uint8]:
		return nullable(c, i), nil
	case *proto.ColNullable[float64]:
		return nullable(c, i), nil
	case *proto.ColNullable[float32]:
		return nullable(c, i), nil
	case *proto.ColNullable[time.Time]:
		return nullable(c, i), nil
	case *proto.ColNothing:
		return nil, nil
	case proto.ColumnOf[string]:
		return c.Row(i), nil
	case proto.ColumnOf[bool]:
		return c.Row(i), nil
	case proto.ColumnOf[int64]:
		return c.Row(i), nil
	case proto.ColumnOf[int32]:
		return c.Row(i), nil
	case proto.ColumnOf[int16]:
		return c.Row(i), nil
	case proto.ColumnOf[int8]:
		return c.Row(i), nil
	case proto.ColumnOf[uint64]:
		return c.Row(i), nil
	case proto.ColumnOf[uint32]:
		return c.Row(i), nil
	case proto.ColumnOf[uint16]:
		return c.Row(i), nil
	case proto.ColumnOf[uint8]:
		return c.Row(i), nil
	case proto.ColumnOf[float64]:
		return c.Row(i), nil
	case proto.ColumnOf[float32]:
		return c.Row(i), nil
	case proto.ColumnOf[time.Time]:
		return c.Row(i), nil
	}
	return nil, fmt.Errorf("result column type %s is not one olapgate reads", col.Type())
}

func nullable[T any](c *proto.ColNullable[T], i int) any {
	if c.Nulls[i] == 1 {
		return nil
	}
	return c.Values.Row(i)
}
