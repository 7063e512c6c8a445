package chsink

import (
	"testing"

	"go.uber.org/goleak"
)

// Connection goroutines must end with Shutdown, and ch-go's pools with their Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
