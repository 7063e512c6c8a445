package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/chdouble"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
)

// crashingCH is the real ClickHouse store whose Writes call after once they were acknowledged:
// a crash between the insert and the offset commit.
type crashingCH struct {
	*clickhouse.Store
	writes atomic.Int64
	after  atomic.Pointer[func(n int64) error]
}

func (c *crashingCH) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	res, err := c.Store.Write(ctx, b)
	if err != nil {
		return res, err
	}
	if f := c.after.Load(); f != nil {
		if err := (*f)(c.writes.Add(1)); err != nil {
			return store.WriteResult{}, err
		}
	}
	return res, nil
}

// TestClickHouseServerCrash runs the crash test through the real store/clickhouse against a
// server at CLICKHOUSE_ADDR (native protocol host:port; CLICKHOUSE_USER, CLICKHOUSE_PASSWORD,
// CLICKHOUSE_DATABASE optional), with the insert tokens the store sends as
// insert_deduplication_token. Unset, it skips; set and unreachable, it fails. It creates and
// drops its own tables.
func TestClickHouseServerCrash(t *testing.T) {
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		t.Skip("CLICKHOUSE_ADDR is not set: skipping the Kafka → ClickHouse server test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := clickhouse.Open(ctx, clickhouse.Config{
		Addr: addr, User: os.Getenv("CLICKHOUSE_USER"), Password: os.Getenv("CLICKHOUSE_PASSWORD"),
		Database: os.Getenv("CLICKHOUSE_DATABASE"), InsertRows: 1000,
	})
	if err != nil {
		t.Fatalf("CLICKHOUSE_ADDR=%s is set but the server is unreachable: %v", addr, err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := "olapgate_kafka_it_" + hex.EncodeToString(suffix[:])
	d := chdouble.Dataset(t, name)
	dl := name + "_dl"
	count := func(q string) int64 {
		t.Helper()
		res, err := st.Query(ctx, store.Statement{SQL: q, Output: []store.ResultColumn{{Name: "n", Type: store.TypeInt64}}})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return res.Rows[0][0].(int64)
	}
	defer func() {
		for _, tb := range []string{name, dl} {
			if _, err := st.Query(context.Background(), store.Statement{SQL: "DROP TABLE IF EXISTS `" + tb + "`"}); err != nil {
				t.Logf("drop table %s: %v", tb, err)
			}
		}
	}()
	if err := st.EnsureDataset(ctx, d); err != nil {
		t.Fatal(err)
	}

	const partitions, n = 4, 20000
	c := newCluster(t, partitions)
	produce(t, c, partitions, 0, n/2, chdouble.Poisoned)
	cfg := sourceConfig(c, func(cfg *Config) {
		cfg.Batch = BatchConfig{MaxEvents: 500, MaxWait: 20 * time.Millisecond}
		cfg.DeadLetter.Dataset = dl
	})
	wrapped := &crashingCH{Store: st}
	src, err := New(cfg, wrapped, []*dataset.Dataset{d}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	crashed := make(chan struct{})
	var once sync.Once
	crash := func(w int64) error {
		if w < 12 {
			return nil
		}
		once.Do(func() {
			src.aborted.Store(true)
			go func() { src.abort(); close(crashed) }()
		})
		return errors.New("injected: the process died after the insert")
	}
	wrapped.after.Store(&crash)
	select {
	case <-crashed:
	case <-time.After(60 * time.Second):
		t.Fatal("the source never crashed")
	}
	t.Logf("crashed with %d rows stored", count("SELECT count() FROM `"+name+"`"))

	produce(t, c, partitions, n/2, n, chdouble.Poisoned)
	src2, err := New(sourceConfig(c, func(cfg *Config) { cfg.DeadLetter.Dataset = dl }), st, []*dataset.Dataset{d}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	good := int64(n - chdouble.BadCount(n))
	deadline := time.Now().Add(90 * time.Second)
	for count("SELECT count() FROM `"+name+"`") < good {
		if time.Now().After(deadline) {
			t.Fatalf("%d rows after 90s, want %d", count("SELECT count() FROM `"+name+"`"), good)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	shutdown(t, src2)
	rows, distinct := count("SELECT count() FROM `"+name+"`"), count("SELECT uniqExact(seq) FROM `"+name+"`")
	dead, deadDistinct := count("SELECT count() FROM `"+dl+"`"), count("SELECT uniqExact(partition, position) FROM `"+dl+"`")
	if rows != good || distinct != good || dead != int64(chdouble.BadCount(n)) || deadDistinct != dead {
		t.Fatalf("%d rows (%d distinct seq), %d dead letters (%d distinct); want %d and %d, each once", rows, distinct, dead, deadDistinct, good, chdouble.BadCount(n))
	}
}
