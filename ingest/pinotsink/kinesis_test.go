package pinotsink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/olapgate/olapgate/ingest/decode"
	"github.com/olapgate/olapgate/internal/kinesalitetest"
)

func TestKinesisEntries(t *testing.T) {
	d := clicks(t, "id")
	s, err := NewKinesis(KinesisConfig{Stream: "clicks", Client: &fakeKinesis{}}, d)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 300)
	b, rej, err := decode.JSON(d, []byte(`[{"id":"a","time":1},{"id":"`+long+`","time":2},{"time":3,"page":"/x"},{"time":3,"page":"/y"}]`),
		decode.FormatArray, 0, decode.Limits{MaxEvents: 10})
	if err != nil || len(rej) > 0 {
		t.Fatal(err, rej)
	}
	es := s.Entries(b)
	if string(es[0].Data) != `{"time":1,"id":"a"}` || aws.ToString(es[0].PartitionKey) != "a" {
		t.Errorf("entry 0: %s %q", es[0].Data, aws.ToString(es[0].PartitionKey))
	}
	if k := aws.ToString(es[1].PartitionKey); len(k) != 64 {
		t.Errorf("long key not hashed: %d chars", len(k))
	}
	k2, k3 := aws.ToString(es[2].PartitionKey), aws.ToString(es[3].PartitionKey)
	if k2 == "" || k3 == "" || k2 == k3 {
		t.Errorf("keys of rows without one: %q %q", k2, k3)
	}
	if _, err := NewKinesis(KinesisConfig{Client: &fakeKinesis{}}, d); err == nil {
		t.Error("no stream: no error")
	}
	if _, err := NewKinesis(KinesisConfig{Stream: "x"}, d); err == nil {
		t.Error("no client: no error")
	}
	if c := NewKinesisClient("eu-west-1", "http://127.0.0.1:1", "", ""); c == nil {
		t.Error("no client")
	}
}

// fakeKinesis refuses some records or whole calls, then stores what it accepts.
type fakeKinesis struct {
	mu       sync.Mutex
	calls    int
	refuse   int   // refuse the first n records of each of the first refusals calls
	refusals int   // calls that refuse
	err      error // returned by every call
	got      map[string]int
	maxBatch int
}

func (f *fakeKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if f.got == nil {
		f.got = map[string]int{}
	}
	f.maxBatch = max(f.maxBatch, len(in.Records))
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	failed := int32(0)
	for i, r := range in.Records {
		if f.refusals > 0 && i < f.refuse {
			out.Records[i] = types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("slow down")}
			failed++
			continue
		}
		f.got[aws.ToString(r.PartitionKey)]++
		out.Records[i] = types.PutRecordsResultEntry{SequenceNumber: aws.String(fmt.Sprint(f.calls, i)), ShardId: aws.String("shardId-0")}
	}
	if f.refusals > 0 {
		f.refusals--
	}
	out.FailedRecordCount = aws.Int32(failed)
	return out, nil
}

func TestKinesisRetriesRefused(t *testing.T) {
	d := clicks(t, "id")
	f := &fakeKinesis{refuse: 10, refusals: 3}
	s, err := NewKinesis(KinesisConfig{Stream: "clicks", Client: f}, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), batch(t, d, 0, 1200)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1200; i++ {
		if n := f.got[fmt.Sprintf("e%d", i)]; n != 1 {
			t.Fatalf("e%d put %d times", i, n)
		}
	}
	if f.maxBatch > kinesisMaxRecords {
		t.Errorf("a PutRecords call had %d records", f.maxBatch)
	}

	f = &fakeKinesis{err: &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Stream clicks not found"}}
	s, _ = NewKinesis(KinesisConfig{Stream: "clicks", Client: f}, d)
	start := time.Now()
	if err := s.Write(context.Background(), batch(t, d, 0, 3)); err == nil || !strings.Contains(err.Error(), "Stream clicks not found") || f.calls != 1 {
		t.Errorf("permanent error: %v after %d calls", err, f.calls)
	}
	if time.Since(start) > time.Second {
		t.Error("a permanent error was retried")
	}

	f = &fakeKinesis{err: errors.New("connection reset")}
	s, _ = NewKinesis(KinesisConfig{Stream: "clicks", Client: f, Timeout: 300 * time.Millisecond}, d)
	if err := s.Write(context.Background(), batch(t, d, 0, 3)); err == nil || !strings.Contains(err.Error(), "connection reset") || f.calls < 2 {
		t.Errorf("transient error: %v after %d calls", err, f.calls)
	}
	_ = s.Close()
	if err := s.Write(context.Background(), batch(t, d, 0, 1)); err != ErrClosed {
		t.Errorf("after close: %v", err)
	}
}

// Against kinesalite: every event is in the stream once, in the shard of its key.
func TestKinesisSinkKinesalite(t *testing.T) {
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "clicks", 3)
	d := clicks(t, "id")
	cl := srv.Client()
	s, err := NewKinesis(KinesisConfig{Stream: "clicks", Client: cl}, d)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(context.Background(), batch(t, d, 0, 1200)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	shards, err := cl.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("clicks")})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	shardOf := map[string]string{}
	for _, sh := range shards.Shards {
		it, err := cl.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := cl.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				var e event
				if err := json.Unmarshal(r.Data, &e); err != nil {
					t.Fatalf("%s: %v", r.Data, err)
				}
				seen[e.ID]++
				if aws.ToString(r.PartitionKey) != e.ID {
					t.Errorf("%s: partition key %q", e.ID, aws.ToString(r.PartitionKey))
				}
				if prev, ok := shardOf[e.ID]; ok && prev != aws.ToString(sh.ShardId) {
					t.Errorf("%s in two shards", e.ID)
				}
				shardOf[e.ID] = aws.ToString(sh.ShardId)
			}
			if len(out.Records) == 0 || aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	for i := 0; i < 1200; i++ {
		if n := seen[fmt.Sprintf("e%d", i)]; n != 1 {
			t.Fatalf("e%d read %d times", i, n)
		}
	}
	shardsUsed := map[string]bool{}
	for _, sh := range shardOf {
		shardsUsed[sh] = true
	}
	if len(shardsUsed) < 2 {
		t.Errorf("records in %d shards", len(shardsUsed))
	}
}
