package pinot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	pinotclient "github.com/startreedata/pinot-client-go/pinot"
	"google.golang.org/grpc/codes"

	"github.com/olapgate/olapgate/store"
)

type exception = pinotclient.Exception

// brokerResponse is pinot-client-go's BrokerResponse plus the fields it lacks.
type brokerResponse struct {
	pinotclient.BrokerResponse
	// PartialResult is set by brokers since apache/pinot#11592 (1.0).
	PartialResult bool `json:"partialResult"`
	// RequestID is the broker's id for the query (a JSON string; older brokers sent a number).
	RequestID json.RawMessage `json:"requestId"`
}

func (r *brokerResponse) requestID() string {
	var s string
	if json.Unmarshal(r.RequestID, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(r.RequestID, &n) == nil {
		return n.String()
	}
	return ""
}

// decodeResponse turns a broker's answer into a result with the planned output columns.
// Exceptions with rows from the servers that answered (server timeouts, servers or segments
// unavailable) make a partial answer unless rejectPartial; any other exception, or one
// without rows, is an error.
func decodeResponse(where string, raw []byte, out []store.ResultColumn, rejectPartial bool) (*store.Result, error) {
	var br brokerResponse
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&br); err != nil {
		return nil, &Error{grpc: codes.Internal, msg: fmt.Sprintf("%s: decode broker response: %v", where, err), err: err}
	}
	if dec.More() {
		return nil, &Error{grpc: codes.Internal, msg: where + ": decode broker response: data after the JSON object"}
	}
	meta := store.ResultMeta{
		Partial:     br.PartialResult || br.NumServersResponded < br.NumServersQueried,
		Trimmed:     br.NumGroupsLimitReached,
		RowsScanned: br.NumDocsScanned,
		QueryID:     br.requestID(),
	}
	if br.NumConsumingSegmentsQueried > 0 && br.MinConsumingFreshnessTimeMs > 0 && br.MinConsumingFreshnessTimeMs < math.MaxInt64 {
		meta.CompleteUpTo = time.UnixMilli(br.MinConsumingFreshnessTimeMs).UTC()
	}
	if len(br.Exceptions) > 0 {
		partialOnly := br.ResultTable != nil && !rejectPartial
		for _, e := range br.Exceptions {
			partialOnly = partialOnly && classOf(e.ErrorCode).partial
		}
		if !partialOnly {
			return nil, exceptionsError(where, br.Exceptions)
		}
		meta.Partial = true
	}
	if meta.Partial && rejectPartial {
		return nil, &Error{grpc: codes.Unavailable, msg: fmt.Sprintf("%s: partial answer (%d of %d servers responded) refused by rejectPartial", where, br.NumServersResponded, br.NumServersQueried)}
	}
	rt := br.ResultTable
	if rt == nil {
		return nil, &Error{grpc: codes.Internal, msg: where + ": broker response has no resultTable and no exception"}
	}
	if n := len(rt.DataSchema.ColumnNames); n != len(out) {
		return nil, &Error{grpc: codes.Internal, msg: fmt.Sprintf("%s: broker returned %d columns %q, planned %d", where, n, rt.DataSchema.ColumnNames, len(out))}
	}
	res := &store.Result{Columns: append([]store.ResultColumn(nil), out...), Rows: make([][]any, len(rt.Rows)), Meta: meta}
	for i, row := range rt.Rows {
		if len(row) != len(out) {
			return nil, &Error{grpc: codes.Internal, msg: fmt.Sprintf("%s: row %d has %d values, want %d", where, i, len(row), len(out))}
		}
		vals := make([]any, len(row))
		for j, v := range row {
			x, err := convert(v, out[j].Type)
			if err != nil {
				return nil, &Error{grpc: codes.Internal, msg: fmt.Sprintf("%s: row %d column %s (Pinot type %s): %v", where, i, out[j].Name, typeAt(rt, j), err), err: err}
			}
			vals[j] = x
		}
		res.Rows[i] = vals
	}
	return res, nil
}

func typeAt(rt *pinotclient.ResultTable, j int) string {
	if j < len(rt.DataSchema.ColumnDataTypes) {
		return rt.DataSchema.ColumnDataTypes[j]
	}
	return "?"
}

var errType = errors.New("value does not fit the column type")

// convert turns one JSON value (decoded with UseNumber) into the Go type of t. With
// enableNullHandling=true Pinot answers null for nulls; without it (a broker that overrides
// the option, or a table that does not store nulls) it answers the column's default value
// (Long.MIN_VALUE, "-Infinity", "null"), which is returned as a value: that is what Pinot
// computed.
func convert(v any, t store.ColumnType) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case store.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case store.TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case json.Number: // BOOLEAN is stored as INT; some answers carry 0/1
			switch x.String() {
			case "0":
				return false, nil
			case "1":
				return true, nil
			}
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
	case store.TypeInt64:
		if n, ok := v.(json.Number); ok {
			return toInt(n)
		}
	case store.TypeDouble:
		switch x := v.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(x.String(), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("%w: %s", errType, x)
			}
			return f, nil
		case string: // Jackson writes NaN and the infinities as strings
			switch x {
			case "NaN":
				return math.NaN(), nil
			case "Infinity":
				return math.Inf(1), nil
			case "-Infinity":
				return math.Inf(-1), nil
			}
		}
	case store.TypeTimestamp:
		switch x := v.(type) {
		case json.Number: // LONG epoch millis, or DOUBLE from arithmetic and MIN/MAX
			ms, err := toInt(x)
			if err != nil {
				return nil, err
			}
			return time.UnixMilli(ms).UTC(), nil
		case string: // a TIMESTAMP column: java.sql.Timestamp.toString in UTC
			tm, err := time.Parse("2006-01-02 15:04:05.999999999", x)
			if err != nil {
				return nil, fmt.Errorf("%w: timestamp %q", errType, x)
			}
			return tm.UTC(), nil
		}
	default:
		return nil, fmt.Errorf("planned column type %v is not supported", t)
	}
	return nil, fmt.Errorf("%w: %T %v for %v", errType, v, v, t)
}

// toInt accepts integers and integral doubles (Pinot's SUM, MIN, MAX and arithmetic answer
// DOUBLE) within int64; DOUBLE carries integers exactly up to 2^53.
func toInt(n json.Number) (int64, error) {
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%w: %s is not a number within range", errType, n)
	}
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, fmt.Errorf("%w: %s is not an integer within int64", errType, n)
	}
	return int64(f), nil
}
