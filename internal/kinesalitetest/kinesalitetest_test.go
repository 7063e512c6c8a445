package kinesalitetest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The SDK and kinesalite understand each other on the calls the source makes: put, list
// shards, iterate, read, split.
func TestRoundTrip(t *testing.T) {
	s := Require(t)
	ctx := context.Background()
	cl := s.Client()
	s.CreateStream(t, "rt", 2)
	var entries []types.PutRecordsRequestEntry
	for i := range 10 {
		entries = append(entries, types.PutRecordsRequestEntry{Data: []byte{'a' + byte(i)}, PartitionKey: aws.String(string(rune('a' + i)))})
	}
	put, err := cl.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("rt"), Records: entries})
	if err != nil || aws.ToInt32(put.FailedRecordCount) != 0 {
		t.Fatalf("put records: %v (failed %d)", err, aws.ToInt32(put.FailedRecordCount))
	}
	shards, err := cl.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("rt")})
	if err != nil || len(shards.Shards) != 2 {
		t.Fatalf("list shards: %v, %d shards", err, len(shards.Shards))
	}
	got := 0
	for _, sh := range shards.Shards {
		it, err := cl.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("rt"), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("get shard iterator: %v", err)
		}
		recs, err := cl.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatalf("get records: %v", err)
		}
		for _, r := range recs.Records {
			if r.ApproximateArrivalTimestamp == nil || aws.ToString(r.SequenceNumber) == "" {
				t.Errorf("record without arrival time or sequence number: %+v", r)
			}
		}
		got += len(recs.Records)
	}
	if got != 10 {
		t.Fatalf("read %d records, want 10", got)
	}
	sh := shards.Shards[0]
	if _, err := cl.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("rt"), ShardToSplit: sh.ShardId,
		NewStartingHashKey: aws.String("100")}); err != nil {
		t.Fatalf("split shard: %v", err)
	}
	s.WaitActive(t, "rt")
	after, err := cl.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("rt")})
	if err != nil || len(after.Shards) != 4 {
		t.Fatalf("list shards after split: %v, %d shards", err, len(after.Shards))
	}
	for _, c := range after.Shards[2:] {
		if aws.ToString(c.ParentShardId) != aws.ToString(sh.ShardId) {
			t.Errorf("child %s has parent %s, want %s", aws.ToString(c.ShardId), aws.ToString(c.ParentShardId), aws.ToString(sh.ShardId))
		}
	}
}
