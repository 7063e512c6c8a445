package clickhouse

import (
	"bytes"
	"testing"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/store"
)

// encodeInput is the native encoding of every column of in, as ch-go's block encoder writes
// it (LowCardinality columns build their dictionaries first).
func encodeInput(t *testing.T, in proto.Input) []byte {
	t.Helper()
	var buf proto.Buffer
	for _, c := range in {
		if p, ok := c.Data.(proto.Preparable); ok {
			if err := p.Prepare(); err != nil {
				t.Fatalf("%s: prepare: %v", c.Name, err)
			}
		}
		if se, ok := c.Data.(proto.StateEncoder); ok {
			se.EncodeState(&buf)
		}
		c.Data.EncodeColumn(&buf)
	}
	return buf.Buf
}

// TestBlockColsReuse: columns kept between inserts (what OTelTables does) encode a batch exactly
// as fresh ones do, whatever they held before: more rows, other dictionaries, events and links.
func TestBlockColsReuse(t *testing.T) {
	s := OTelSchema{}.withDefaults("default")
	big := store.NewBatch(otelrows.TracesDataset(), 512)
	otelrows.AppendTraces(big, telemetrygenTraces(), otelrows.Options{})
	spans, logs, _ := otelBatches(t)
	cols := &blockCols{}
	for _, step := range []struct {
		name string
		b    *store.Batch
	}{
		{"telemetrygen spans", big},
		{"sample spans after telemetrygen's", spans},
		{"two sample spans", sliceBatch(spans, 1, 3)},
		{"telemetrygen spans again", big},
		{"sample logs", logs},
		{"two sample logs", sliceBatch(logs, 0, 2)},
		{"sample logs again", logs},
	} {
		reused, err := s.otelBlocks(step.b, cols)
		if err != nil {
			t.Fatalf("%s: reused columns: %v", step.name, err)
		}
		fresh, err := s.OTelBlocks(step.b)
		if err != nil {
			t.Fatalf("%s: fresh columns: %v", step.name, err)
		}
		if len(reused) != 1 || len(fresh) != 1 || reused[0].Rows() != step.b.N || fresh[0].Rows() != step.b.N {
			t.Fatalf("%s: %d and %d blocks, want one of %d rows each", step.name, len(reused), len(fresh), step.b.N)
		}
		for ci, c := range reused[0].Input {
			if c.Data.Rows() != step.b.N {
				t.Errorf("%s: %s has %d rows, want %d", step.name, c.Name, c.Data.Rows(), step.b.N)
			}
			if got, want := encodeInput(t, reused[0].Input[ci:ci+1]), encodeInput(t, fresh[0].Input[ci:ci+1]); !bytes.Equal(got, want) {
				t.Errorf("%s: %s encodes differently from fresh columns", step.name, c.Name)
			}
		}
	}
	if cols.spans == nil || cols.logs == nil {
		t.Error("the column sets were not kept in the blockCols")
	}
}

// TestBatchTokenBuf: the reused buffer gives batchToken's tokens and counts what it hashed.
func TestBatchTokenBuf(t *testing.T) {
	spans, logs, _ := otelBatches(t)
	var buf []byte
	for _, b := range []*store.Batch{spans, logs, spans} {
		got, n := batchTokenBuf(b, &buf)
		if want := batchToken(b); got != want {
			t.Errorf("%s: token %s, batchToken says %s", b.Dataset.Name, got, want)
		}
		if n <= int64(len(b.Dataset.Name)) {
			t.Errorf("%s: hashed %d bytes", b.Dataset.Name, n)
		}
	}
	if cap(buf) < 64<<10 {
		t.Errorf("buffer not kept: cap %d", cap(buf))
	}
}
