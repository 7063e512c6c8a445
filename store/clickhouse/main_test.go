package clickhouse

import (
	"testing"

	"go.uber.org/goleak"
)

// The pool's health checker and Close's waiter must not outlive the store.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
