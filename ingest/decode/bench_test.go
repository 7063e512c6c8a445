package decode

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/sample"
)

const benchEvents = 10000

// benchSource returns a generator of realistic pageviews events: zipf-distributed pages and
// countries, high-cardinality ids and users, millisecond times over a day.
func benchSource() *sample.Generator {
	g := sample.New(42, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), 24*time.Hour, 50000)
	g.Tenants = []string{"acme", "globex", "initech"}
	return g
}

func benchNDJSON(n int) []byte {
	g := benchSource()
	var body []byte
	for range n {
		body = g.Next().AppendJSON(body)
		body = append(body, '\n')
	}
	return body
}

func benchArray(n int) []byte {
	g := benchSource()
	body := []byte{'['}
	for i := range n {
		if i > 0 {
			body = append(body, ',')
		}
		body = g.Next().AppendJSON(body)
	}
	return append(body, ']')
}

func benchStructs(tb testing.TB, n int) []*structpb.Struct {
	g := benchSource()
	out := make([]*structpb.Struct, n)
	for i := range out {
		m := g.Next().Map()
		m["time"] = m["time"].(time.Time).Format(time.RFC3339Nano)
		s, err := structpb.NewStruct(m)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = s
	}
	return out
}

func reportEvents(b *testing.B, n int) {
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkJSONNDJSON(b *testing.B) {
	d := dataset.Sample()
	body := benchNDJSON(benchEvents)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		batch, rej, err := JSON(d, body, FormatNDJSON, 0, Limits{MaxEvents: DefaultMaxEvents})
		if err != nil || len(rej) > 0 || batch.N != benchEvents {
			b.Fatalf("err %v, %d rejections, %d rows", err, len(rej), batch.N)
		}
	}
	reportEvents(b, benchEvents)
	b.ReportMetric(float64(len(body))/benchEvents, "bytes/event")
}

func BenchmarkJSONArray(b *testing.B) {
	d := dataset.Sample()
	body := benchArray(benchEvents)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		batch, rej, err := JSON(d, body, FormatArray, 0, Limits{MaxEvents: DefaultMaxEvents})
		if err != nil || len(rej) > 0 || batch.N != benchEvents {
			b.Fatalf("err %v, %d rejections, %d rows", err, len(rej), batch.N)
		}
	}
	reportEvents(b, benchEvents)
}

func BenchmarkStructs(b *testing.B) {
	d := dataset.Sample()
	events := benchStructs(b, benchEvents)
	b.ReportAllocs()
	for b.Loop() {
		batch, rej, err := Structs(d, events, 0, Limits{MaxEvents: DefaultMaxEvents})
		if err != nil || len(rej) > 0 || batch.N != benchEvents {
			b.Fatalf("err %v, %d rejections, %d rows", err, len(rej), batch.N)
		}
	}
	reportEvents(b, benchEvents)
}
