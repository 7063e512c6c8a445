package pinot

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/store"
)

// Error is a failed Pinot call: a broker exception, an HTTP failure, or the context ending.
// It carries a gRPC status (status.FromError finds it) and keeps Pinot's code and message.
type Error struct {
	// Code is Pinot's errorCode (QueryErrorCode), 0 when the failure is not a broker
	// exception.
	Code int
	// HTTPStatus is the HTTP status of a non-200 answer, else 0.
	HTTPStatus int
	// Overload: the backend refused or dropped the query for lack of capacity (see
	// IsOverload).
	Overload bool
	grpc     codes.Code
	msg      string
	err      error
}

func (e *Error) Error() string { return e.msg }

// Unwrap gives the cause: a context error, a network error, or nil.
func (e *Error) Unwrap() error { return e.err }

// GRPCStatus is the error as a gRPC status.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.grpc, e.msg) }

// IsOverload reports whether err is a Pinot answer that means "too much load": servers out of
// capacity (211), resource limits (245), queueing past the deadline on a server (240), or too
// many requests (429, also as HTTP 429). Admission control counts these as overload.
func IsOverload(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Overload
}

// ErrWriteUnsupported is returned by Write: Pinot tables are fed by the stream they consume.
var ErrWriteUnsupported = fmt.Errorf("%w: pinot datasets are written by producing events to the stream their REALTIME table consumes (the ingest stream sink), not through the store", store.ErrNotWritable)

// codeClass is how olapgate treats one Pinot error code (QueryErrorCode in apache/pinot,
// pinot-spi/src/main/java/org/apache/pinot/spi/exception/QueryErrorCode.java).
type codeClass struct {
	name     string
	grpc     codes.Code
	overload bool
	// partial: a server-side failure the broker reports beside the rows of the servers that
	// did answer; with a resultTable present the answer is partial rather than failed.
	partial bool
}

// codeClasses maps Pinot error codes. Decisions:
//   - 100, 150, 155, 160, 200, 450, 500, 1000: Internal. olapgate built the request and the
//     SQL from a validated query, so a parse error (150) is olapgate's bug, not the caller's.
//   - 700, 720: InvalidArgument: the SQL parsed but Pinot refuses the query's meaning (a type
//     mismatch, an unsupported function on a column type), which follows from the request.
//   - 710 (unknown column): FailedPrecondition, not InvalidArgument: columns come from the
//     dataset's declaration, so the Pinot schema does not match the config, which the caller
//     cannot fix.
//   - timeouts (240, 250, 400): DeadlineExceeded; 240 (queued on a server past the deadline)
//     is overload too.
//   - capacity (211, 245, 429): ResourceExhausted and overload.
//   - routing and availability (210, 230, 235, 305, 410, 420, 425, 427, 510): Unavailable.
//   - 503: Canceled (the query was cancelled on the broker or server).
var codeClasses = map[int]codeClass{
	100:  {name: "JsonParsingError", grpc: codes.Internal},
	150:  {name: "SQLParsingError", grpc: codes.Internal},
	155:  {name: "TimeseriesParsingError", grpc: codes.Internal},
	160:  {name: "SQLRuntimeError", grpc: codes.Internal},
	180:  {name: "AccessDenied", grpc: codes.PermissionDenied},
	190:  {name: "TableDoesNotExistError", grpc: codes.NotFound},
	191:  {name: "TableIsDisabledError", grpc: codes.NotFound},
	200:  {name: "QueryExecutionError", grpc: codes.Internal},
	210:  {name: "ServerShuttingDown", grpc: codes.Unavailable, partial: true},
	211:  {name: "ServerOutOfCapacity", grpc: codes.ResourceExhausted, overload: true},
	230:  {name: "ServerTableMissing", grpc: codes.Unavailable, partial: true},
	235:  {name: "ServerSegmentMissing", grpc: codes.Unavailable, partial: true},
	240:  {name: "QuerySchedulingTimeoutError", grpc: codes.DeadlineExceeded, overload: true},
	245:  {name: "ServerResourceLimitExceededError", grpc: codes.ResourceExhausted, overload: true},
	250:  {name: "ExecutionTimeoutError", grpc: codes.DeadlineExceeded, partial: true},
	305:  {name: "BrokerSegmentUnavailable", grpc: codes.Unavailable, partial: true},
	400:  {name: "BrokerTimeoutError", grpc: codes.DeadlineExceeded},
	410:  {name: "BrokerResourceMissingError", grpc: codes.Unavailable},
	420:  {name: "BrokerInstanceMissingError", grpc: codes.Unavailable},
	425:  {name: "BrokerRequestSend", grpc: codes.Unavailable, partial: true},
	427:  {name: "ServerNotResponding", grpc: codes.Unavailable, partial: true},
	429:  {name: "TooManyRequests", grpc: codes.ResourceExhausted, overload: true},
	450:  {name: "InternalError", grpc: codes.Internal},
	500:  {name: "MergeResponseError", grpc: codes.Internal},
	503:  {name: "QueryCancellationError", grpc: codes.Canceled},
	510:  {name: "RemoteClusterUnavailable", grpc: codes.Unavailable},
	700:  {name: "QueryValidationError", grpc: codes.InvalidArgument},
	710:  {name: "UnknownColumnError", grpc: codes.FailedPrecondition},
	720:  {name: "QueryPlanningError", grpc: codes.InvalidArgument},
	1000: {name: "UnknownError", grpc: codes.Internal},
}

func classOf(code int) codeClass {
	if c, ok := codeClasses[code]; ok {
		return c
	}
	return codeClass{name: "unknown error code", grpc: codes.Internal}
}

// maxMessage bounds the Pinot message kept in an error: execution errors carry Java stack
// traces.
const maxMessage = 1024

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxMessage {
		return s[:maxMessage] + "…"
	}
	return s
}

// exceptionsError turns a broker's exceptions into one error. The status comes from the first
// overload exception if there is one (so admission control sees overload whatever the order),
// else from the first exception; every exception's code and message is in the text.
func exceptionsError(where string, ex []exception) *Error {
	pi := 0
	for i, e := range ex {
		if classOf(e.ErrorCode).overload {
			pi = i
			break
		}
	}
	primary := ex[pi]
	c := classOf(primary.ErrorCode)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: pinot error %d (%s): %s", where, primary.ErrorCode, c.name, clip(primary.Message))
	for i, e := range ex {
		if i == pi {
			continue
		}
		fmt.Fprintf(&b, "; also error %d (%s): %s", e.ErrorCode, classOf(e.ErrorCode).name, clip(e.Message))
	}
	return &Error{Code: primary.ErrorCode, Overload: c.overload, grpc: c.grpc, msg: b.String()}
}

// httpError classifies a non-200 answer whose body holds no broker exceptions.
func httpError(where string, code int, body []byte) *Error {
	e := &Error{HTTPStatus: code, grpc: codes.Internal}
	switch {
	case code == 401:
		e.grpc = codes.Unauthenticated
	case code == 403:
		e.grpc = codes.PermissionDenied
	case code == 408:
		e.grpc = codes.DeadlineExceeded
	case code == 429:
		e.grpc, e.Overload = codes.ResourceExhausted, true
	case code == 502 || code == 503 || code == 504:
		e.grpc = codes.Unavailable
	}
	e.msg = fmt.Sprintf("%s: HTTP %d: %s", where, code, clip(string(body)))
	return e
}

// OverloadSignal reports whether the backend refused for lack of capacity (store.IsOverload).
func (e *Error) OverloadSignal() bool { return e.Overload }
