package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is a failed ClickHouse operation, with the gRPC code it maps to.
type Error struct {
	// Code is the ClickHouse server exception code (ErrorCodes.cpp), 0 when the failure is
	// not a server exception (network, context, client).
	Code int
	// Overload: the server refused or dropped the work for lack of capacity (see IsOverload).
	Overload bool
	grpc     codes.Code
	msg      string
	err      error
}

func (e *Error) Error() string { return e.msg }

// Unwrap gives the cause: ch-go's *ch.Exception, a context error, a network error.
func (e *Error) Unwrap() error { return e.err }

// GRPCStatus is the error as a gRPC status.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.grpc, e.msg) }

// IsOverload reports whether err is ClickHouse saying "too much load": too many simultaneous
// queries (202) or a memory limit hit (241). Admission control counts these as overload.
func IsOverload(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Overload
}

// exceptionClass is how olapgate treats a ClickHouse exception code. The codes and names are
// ClickHouse's src/Common/ErrorCodes.cpp (checked on chdb with errorCodeToName in the tests).
type exceptionClass struct {
	name     string
	grpc     codes.Code
	overload bool
}

var exceptionClasses = map[proto.Error]exceptionClass{
	202: {"TOO_MANY_SIMULTANEOUS_QUERIES", codes.ResourceExhausted, true},
	241: {"MEMORY_LIMIT_EXCEEDED", codes.ResourceExhausted, true},
	159: {"TIMEOUT_EXCEEDED", codes.DeadlineExceeded, false},
	160: {"TOO_SLOW", codes.DeadlineExceeded, false},
	60:  {"UNKNOWN_TABLE", codes.NotFound, false},
	81:  {"UNKNOWN_DATABASE", codes.NotFound, false},
	// olapgate wrote the SQL: a syntax error is olapgate's bug, not the caller's.
	62:  {"SYNTAX_ERROR", codes.Internal, false},
	394: {"QUERY_WAS_CANCELLED", codes.Canceled, false},
	209: {"SOCKET_TIMEOUT", codes.Unavailable, false},
	210: {"NETWORK_ERROR", codes.Unavailable, false},
	516: {"AUTHENTICATION_FAILED", codes.Unauthenticated, false},
	497: {"ACCESS_DENIED", codes.PermissionDenied, false},
	164: {"READONLY", codes.PermissionDenied, false},
}

// mapError turns an error from ch-go into an *Error saying what was being done. The context's
// own end wins over what the server or the connection said about it: ch-go reports a
// cancelled query as a wrapped context error plus the cancel packet's outcome.
func mapError(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		c := codes.Canceled
		if errors.Is(cerr, context.DeadlineExceeded) {
			c = codes.DeadlineExceeded
		}
		return &Error{grpc: c, msg: fmt.Sprintf("%s: %v (%v)", what, cerr, err), err: fmt.Errorf("%w (%w)", cerr, err)}
	}
	if exc, ok := ch.AsException(err); ok {
		cls, known := exceptionClasses[exc.Code]
		if !known {
			cls = exceptionClass{grpc: codes.Internal}
		}
		return &Error{Code: int(exc.Code), Overload: cls.overload, grpc: cls.grpc, msg: fmt.Sprintf("%s: clickhouse: %v", what, exc), err: err}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{grpc: codes.DeadlineExceeded, msg: fmt.Sprintf("%s: %v", what, err), err: err}
	case errors.Is(err, context.Canceled):
		return &Error{grpc: codes.Canceled, msg: fmt.Sprintf("%s: %v", what, err), err: err}
	case isNetwork(err):
		return &Error{grpc: codes.Unavailable, msg: fmt.Sprintf("%s: clickhouse unreachable: %v", what, err), err: err}
	}
	return &Error{grpc: codes.Internal, msg: fmt.Sprintf("%s: %v", what, err), err: err}
}

// isNetwork: the connection failed or broke, so another attempt (or replica) may succeed.
func isNetwork(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

// OverloadSignal reports whether the backend refused for lack of capacity (store.IsOverload).
func (e *Error) OverloadSignal() bool { return e.Overload }
