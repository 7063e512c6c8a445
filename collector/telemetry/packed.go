package telemetry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/olapgate/olapgate/store"
)

// GetTrace reads thousands of rows, and the embedded store hands a result over value by value
// (the driver copies each string twice and boxes it, database/sql and the store box it again):
// for a 1,000-span, 5,000-log trace that was about 10 ms of the answer's CPU time, more than
// DuckDB spent finding the rows. So on DuckDB the trace's statements return one packed VARCHAR
// (string_agg over the rows), which crosses as one value and is cut up here without copying.
// Concatenating costs DuckDB less than the values cost the driver (measured at 10M spans, CPU
// per statement: the 5,000 logs 9.6 ms instead of 13.9 ms, the 1,000 spans 6.0 instead of 7.3,
// before the store's and GetTrace's own per-value work, which packing also removes). The
// ClickHouse store reads columnar blocks and keeps the plain rows.
//
// The packing, field after field, row after row, no separators between them:
//   - a text field is its length in bytes, ':', then its bytes (NULL is the empty text);
//   - a number or a time (epoch microseconds) is its decimal digits then ':' (NULL: none).

// packText packs a VARCHAR column.
func packText(col string) string {
	return "coalesce(strlen(" + col + "), 0), ':', " + col
}

// packNum packs a BIGINT expression.
func packNum(expr string) string { return expr + ", ':'" }

// packedStatement wraps a statement into one that returns its rows packed (fields are their
// packed columns), and their count. The rows come in no particular order: GetTrace sorts them.
func packedStatement(inner string, fields []string) store.Statement {
	return store.Statement{
		SQL: "SELECT string_agg(concat(" + strings.Join(fields, ", ") + "), ''), count(*) FROM (" + inner + ")",
		Output: []store.ResultColumn{
			{Name: "packed", Type: store.TypeString},
			{Name: "rows", Type: store.TypeInt64},
		},
	}
}

// unpacker reads packed fields. The first malformed field sets err; later reads return zero
// values.
type unpacker struct {
	s   string
	i   int
	err error
}

func (u *unpacker) fail(what string) {
	if u.err == nil {
		u.err = fmt.Errorf("packed rows: malformed %s at byte %d of %d", what, u.i, len(u.s))
	}
}

// digits reads up to the next ':'.
func (u *unpacker) digits() string {
	if u.err != nil {
		return ""
	}
	j := strings.IndexByte(u.s[u.i:], ':')
	if j < 0 {
		u.fail("number")
		return ""
	}
	d := u.s[u.i : u.i+j]
	u.i += j + 1
	return d
}

func (u *unpacker) int() int64 {
	d := u.digits()
	if d == "" {
		return 0
	}
	n, err := strconv.ParseInt(d, 10, 64)
	if err != nil {
		u.fail("number")
	}
	return n
}

// time reads epoch microseconds; a NULL is the zero time, as a NULL TIMESTAMP reads.
func (u *unpacker) time() time.Time {
	d := u.digits()
	if d == "" {
		return time.Time{}
	}
	n, err := strconv.ParseInt(d, 10, 64)
	if err != nil {
		u.fail("time")
	}
	return time.UnixMicro(n).UTC()
}

func (u *unpacker) text() string {
	d := u.digits()
	if u.err != nil {
		return ""
	}
	n, err := strconv.Atoi(d)
	if err != nil || n < 0 || n > len(u.s)-u.i {
		u.fail("text")
		return ""
	}
	t := u.s[u.i : u.i+n]
	u.i += n
	return t
}

func (u *unpacker) more() bool { return u.err == nil && u.i < len(u.s) }

// packedRows is the number of rows in a packedStatement's result.
func packedRows(res *store.Result) int {
	if len(res.Rows) != 1 || len(res.Rows[0]) != 2 {
		return 0
	}
	return int(i64(res.Rows[0][1]))
}

// unpack reads a packedStatement's result: read is called once per row and reads its fields.
// It checks that the rows read are the rows counted.
func unpack(res *store.Result, read func(u *unpacker)) error {
	if len(res.Rows) != 1 || len(res.Rows[0]) != 2 {
		return errors.New("packed rows: want one row of two columns")
	}
	u := &unpacker{s: str(res.Rows[0][0])}
	want := i64(res.Rows[0][1])
	var n int64
	for u.more() {
		read(u)
		n++
	}
	if u.err != nil {
		return u.err
	}
	if n != want {
		return fmt.Errorf("packed rows: read %d rows, the statement counted %d", n, want)
	}
	return nil
}
