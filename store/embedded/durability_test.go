package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Child roles, run by re-executing the test binary with childEnv set.
const (
	childWriter = "writer" // write acknowledged batches forever, printing "ack <seq>" after each
	childHolder = "holder" // open the directory, print "open", wait for stdin to close
)

const childBatchRows = 50

// startChild re-executes this test binary as a child playing role on dir.
func startChild(t *testing.T, test, role, dir string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "OLAPGATE_EMBEDDED_TEST_DIR="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // may be dead already
		_ = cmd.Wait()         // reports the kill
	})
	return cmd, bufio.NewScanner(stdout), stdin
}

// runChild plays the child role named in the environment, if any, and reports whether it did.
func runChild(t *testing.T) bool {
	role := os.Getenv(childEnv)
	if role == "" {
		return false
	}
	dir := os.Getenv("OLAPGATE_EMBEDDED_TEST_DIR")
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: dir})
	if err != nil {
		fmt.Printf("open error: %v\n", err)
		os.Exit(3)
	}
	switch role {
	case childHolder:
		fmt.Println("open")
		_, _ = io.Copy(io.Discard, os.Stdin)
		if err := s.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(0)
	case childWriter:
		d := dataset.Sample()
		if err := s.EnsureDataset(ctx, d); err != nil {
			fmt.Printf("ensure error: %v\n", err)
			os.Exit(3)
		}
		var mu sync.Mutex // one line per ack on stdout
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					seq := int64(w*1_000_000 + i*childBatchRows)
					if _, err := s.Write(ctx, genBatch(d, childBatchRows, seq)); err != nil {
						fmt.Fprintf(os.Stderr, "write: %v\n", err)
						os.Exit(3)
					}
					mu.Lock()
					fmt.Printf("ack %d\n", seq)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	t.Fatalf("unknown child role %q", role)
	return true
}

// Acknowledged means durable: rows acknowledged by a process killed with SIGKILL mid-stream are
// all there when the directory is reopened, and no batch is there in part.
func TestDurabilityAfterKill(t *testing.T) {
	if runChild(t) {
		return
	}
	dir := t.TempDir()
	cmd, out, _ := startChild(t, "TestDurabilityAfterKill", childWriter, dir)
	var acked []int64
	for out.Scan() {
		line := out.Text()
		seq, ok := strings.CutPrefix(line, "ack ")
		if !ok {
			t.Fatalf("child: %s", line)
		}
		n, err := strconv.ParseInt(seq, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, n)
		if len(acked) == 200 {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL: no flush, no close
				t.Fatal(err)
			}
		}
	}
	// Acks written before the kill are still read from the pipe above.
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child exit = %v, want killed", err)
	}
	t.Logf("child acknowledged %d batches before SIGKILL", len(acked))

	s := openStore(t, Config{Dir: dir})
	ensure(t, s, dataset.Sample())
	res, err := s.Query(context.Background(), store.Statement{
		// genBatch's row k has time baseTime + k ms: a batch is the 50 ms starting at its seq.
		SQL:    `SELECT (epoch_ms(time) - epoch_ms(?::TIMESTAMP)) // ?, count(*) FROM pageviews GROUP BY 1`,
		Args:   []any{baseTime, childBatchRows},
		Output: []store.ResultColumn{{Name: "batch", Type: store.TypeInt64}, {Name: "n", Type: store.TypeInt64}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]int64{}
	for _, r := range res.Rows {
		stored[r[0].(int64)*childBatchRows] = r[1].(int64)
	}
	for seq, n := range stored {
		if n != childBatchRows {
			t.Errorf("batch %d: %d rows stored, want all %d or none", seq, n, childBatchRows)
		}
	}
	for _, seq := range acked {
		if stored[seq] != childBatchRows {
			t.Errorf("acknowledged batch %d: %d rows stored after the crash, want %d", seq, stored[seq], childBatchRows)
		}
	}
	t.Logf("%d batches stored (%d acknowledged)", len(stored), len(acked))
}

func TestOpenInUse(t *testing.T) {
	if runChild(t) {
		return
	}
	t.Run("another process", func(t *testing.T) {
		dir := t.TempDir()
		cmd, out, stdin := startChild(t, "TestOpenInUse", childHolder, dir)
		if !out.Scan() || out.Text() != "open" {
			t.Fatalf("child did not open the directory: %q %v", out.Text(), out.Err())
		}
		_, err := Open(context.Background(), Config{Dir: dir})
		if !errors.Is(err, ErrInUse) {
			t.Fatalf("Open = %v, want ErrInUse", err)
		}
		want := fmt.Sprintf("data directory %s is in use by another olapgate process (pid %d); the CLI talks to a running server through its API", dir, cmd.Process.Pid)
		if err.Error() != want {
			t.Fatalf("Open error:\n got %s\nwant %s", err, want)
		}
		// Once the holder closes, the directory opens.
		if err := stdin.Close(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("holder: %v", err)
		}
		openStore(t, Config{Dir: dir})
	})
	t.Run("this process", func(t *testing.T) {
		dir := t.TempDir()
		openStore(t, Config{Dir: dir})
		_, err := Open(context.Background(), Config{Dir: dir + "/."})
		if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "already open in this process") {
			t.Fatalf("second Open in one process = %v, want ErrInUse", err)
		}
	})
	t.Run("in-memory stores are independent", func(t *testing.T) {
		a, b := openStore(t, Config{}), openStore(t, Config{})
		ensure(t, a, dataset.Sample())
		if _, err := b.Query(context.Background(), store.Statement{SQL: "SELECT count(*) FROM pageviews",
			Output: []store.ResultColumn{{Type: store.TypeInt64}}}); err == nil {
			t.Fatal("a table created in one in-memory store is visible in another")
		}
	})
}

// TestCheckpointThreshold checks that DuckDB took checkpointThreshold from the connection
// string: DuckDB 2.0 ignores some settings given there without an error
// (disabled_compression_methods, for one).
func TestCheckpointThreshold(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir()})
	var v string
	if err := s.db.QueryRowContext(context.Background(), "SELECT current_setting('checkpoint_threshold')").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "256.0 MiB" {
		t.Fatalf("checkpoint_threshold = %q, want 256.0 MiB", v)
	}
}
