package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/olapgate/olapgate/store"
)

// Query runs a statement planned in the clickhouse dialect (values inlined as literals, no
// arguments) and converts each value to its output column's type (ConvertValue).
//
// The server stops too when the caller gives up: ch-go sends a Cancel packet when ctx ends,
// max_execution_time is the context's remaining time less Config.ExecutionMargin (so the
// server's own TIMEOUT_EXCEEDED, mapped to DeadlineExceeded, normally comes first), and the
// query runs under a query id (Result.Meta.QueryID) that starts with the OpenTelemetry trace
// id when ctx carries a span, to be found in system.query_log or killed with KILL QUERY.
func (s *Store) Query(ctx context.Context, st store.Statement) (*store.Result, error) {
	const what = "query clickhouse"
	ctx, end, err := s.begin(ctx, what)
	if err != nil {
		return nil, err
	}
	defer end()
	if len(st.Args) > 0 {
		return nil, &Error{grpc: codes.Internal, msg: fmt.Sprintf("%s: statement has %d bound arguments; the clickhouse dialect inlines values (plan with it)", what, len(st.Args))}
	}
	settings, err := s.executionSettings(ctx)
	if err != nil {
		return nil, mapError(ctx, what, err)
	}
	id := queryID(ctx)
	res := &store.Result{
		Columns: append([]store.ResultColumn(nil), st.Output...),
		// Inserts are acknowledged once the server has them, so a statement started now sees
		// every acknowledged write: the data is complete up to now (olapgate's own writes;
		// other writers of the table are not olapgate's to vouch for).
		Meta: store.ResultMeta{QueryID: id, RowsScanned: -1, CompleteUpTo: time.Now().UTC()},
	}
	var cols proto.Results
	var scanned int64
	progress := false
	q := ch.Query{
		Body:     st.SQL,
		QueryID:  id,
		Settings: settings,
		Result:   cols.Auto(),
		OnResult: func(_ context.Context, b proto.Block) error {
			if b.Rows == 0 {
				return nil
			}
			if len(cols) != len(st.Output) {
				return fmt.Errorf("statement returned %d columns, the planner expected %d", len(cols), len(st.Output))
			}
			for i := 0; i < b.Rows; i++ {
				row := make([]any, len(cols))
				for j, c := range cols {
					v, err := columnValue(c.Data, i)
					if err == nil {
						v, err = ConvertValue(v, st.Output[j].Type)
					}
					if err != nil {
						return fmt.Errorf("row %d column %s: %w", len(res.Rows), st.Output[j].Name, err)
					}
					row[j] = v
				}
				res.Rows = append(res.Rows, row)
			}
			return nil
		},
		// Progress packets carry increments of the rows read.
		OnProgress: func(_ context.Context, p proto.Progress) error {
			progress = true
			scanned += int64(p.Rows)
			return nil
		},
	}
	if err := s.pool.Do(ctx, q); err != nil {
		return nil, mapError(ctx, what+" (query id "+id+")", err)
	}
	if progress {
		res.Meta.RowsScanned = scanned
	}
	return res, nil
}

// executionSettings sets max_execution_time from ctx's deadline, or Config.MaxExecutionTime.
// A deadline already within the margin fails here: the server could not answer in time.
func (s *Store) executionSettings(ctx context.Context) ([]ch.Setting, error) {
	limit := s.cfg.MaxExecutionTime
	if dl, ok := ctx.Deadline(); ok {
		limit = time.Until(dl) - s.cfg.ExecutionMargin
		if limit <= 0 {
			return nil, fmt.Errorf("%w: less than the execution margin %s left", context.DeadlineExceeded, s.cfg.ExecutionMargin)
		}
	}
	if limit <= 0 {
		return nil, nil
	}
	// Seconds, fractional: max_execution_time takes 0.25.
	return []ch.Setting{{Key: "max_execution_time", Value: strconv.FormatFloat(limit.Seconds(), 'f', 3, 64)}}, nil
}

// queryID is "<trace id>-<random>" within an OpenTelemetry span, else random. The random part
// keeps ids unique when one request runs several statements (series, compare) or concurrent
// ones: ClickHouse refuses a query id that is already running.
func queryID(ctx context.Context) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	suffix := hex.EncodeToString(b[:])
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String() + "-" + suffix
	}
	return "olapgate-" + suffix
}
