// Package kafka is the Kafka stream source: a franz-go consumer group whose records become rows in the embedded store exactly once.
//
// # Design
//
// Records of a poll go to an ingest/pipeline.Pipeline: routed to a dataset (per topic, or by
// a top-level string field such as "type"), decoded and validated by the push API's decoder
// (ingest/decode, so stream events obey the same rules and give the same reasons), and
// batched. A batch is flushed when it holds Batch.MaxEvents records or its oldest record has
// waited Batch.MaxWait.
//
// A flush is committed in one store transaction (store.PositionedWriter, implemented by
// store/embedded), possibly together with the flushes queued behind it: the rows of every
// dataset, the dead letters, and each partition's new position ("topic/p" → next offset)
// under the source key "kafka:<name>", with the position the consumer expects to be stored. The stored position is the truth (DESIGN §6):
//
//   - On assignment (kgo.AdjustFetchOffsetsFn) each partition starts at its stored
//     position; the group's committed offset is ignored. Without a stored position it starts
//     at StartOffset (earliest by default).
//   - After the store commit, the same offsets are committed to the group, only so that lag
//     tooling (kafka-consumer-groups, Burrow, MSK metrics) sees progress. A crash between
//     the two commits leaves the group behind the store; a restart still resumes at the store.
//   - A commit whose expected position is stale is refused whole (store.ErrPositionConflict):
//     another member owns the partition now and moved it on (this member is a zombie: it
//     missed a rebalance). The source then drops what it holds and seeks every partition back
//     to the re-read stored positions. Any store error is handled the same way, after a
//     backoff, so a flush is always safe to attempt, including on revoked or lost partitions.
//   - kgo.BlockRebalanceOnPoll keeps rebalance callbacks out of the processing of a poll. On
//     revoke the source flushes, waits for every commit in flight, commits group offsets
//     synchronously, then forgets the partitions. On loss it does the same: the position
//     check makes the flush harmless.
//
// Reading and committing overlap. The poll loop decodes a flushed batch into a job (its
// store batches and the positions it moves each partition to) and hands it to a committer
// goroutine over a bounded queue (16 jobs, about 160k records), then goes on polling and
// decoding while the store commits. Each job expects the positions the previous one moves
// to, so the store chains them; the committer merges the jobs queued behind the one it just
// committed into its next commit (per partition: the first job's expected position, the
// last one's new position). A store commit has a large fixed cost (the WAL sync, DuckDB's
// checkpoints), and one that holds a whole 122,880-row row group costs less per row still,
// so under load commits grow towards the bound, and at low rates each batch is committed
// alone at once. Results come back to whoever holds the source's lock (the poll loop, or a
// group callback), which alone changes partition state: after a failed commit it waits for
// every job in flight (those behind it were refused too: their expected positions no
// longer hold), then rewinds as above.
//
// Dead letters (records that cannot be routed or are refused by validation, empty values,
// non-UTF-8 payloads, datasets not declared) are rows of a local dataset,
// pipeline.DeadLetterDataset (default olapgate_deadletter), with the reason, the raw payload
// (base64 when not UTF-8), topic/partition/offset and key, in the same transaction: they are
// stored exactly once too, and nothing is dropped silently. The counters
// olapgate_stream_events_total{source,dataset,outcome}, olapgate_stream_deadletters_total and
// olapgate_stream_commits_total{outcome} move only after the commit; olapgate_kafka_consumer_lag
// is the high watermark minus the next offset of the last fetch of each owned partition.
//
// Records are read with isolation level read_committed, so aborted transactional batches
// (a producer's retries, the planned Pinot sink) never become rows.
//
// TLS (CA, client certificate, server name) and SASL (PLAIN, SCRAM-SHA-256/512, AWS_MSK_IAM
// via franz-go's sasl/aws with static keys, AWS_* environment variables read per connection,
// or a WithAWSCredentials provider) are configuration; MSK IAM requires TLS.
//
// # Not done yet
//
//   - Targets other than the embedded store: for ClickHouse, commit group offsets after an
//     insert made idempotent by insert_deduplication_token derived from the offset range
//     (store positions in the group instead of the store); datasets on other backends are
//     refused by New for now.
//   - A Kafka dead-letter topic as an alternative destination (at-least-once: produced before
//     the store commit, so a crash between the two can repeat a dead letter).
//   - The Pinot sink (producing accepted events, keyed by primary key, in Kafka transactions).
//   - Kinesis, which should reuse ingest/pipeline and store.PositionedWriter unchanged
//     (sequence numbers are positions as strings).
//   - Parallel decoding (per partition, or a batch split across GOMAXPROCS): batches are
//     decoded on the poll loop's goroutine, overlapping the store commit but not each other.
//     The store commit (DuckDB appender fill, already on two goroutines, WAL write,
//     checkpoints) is about two thirds of the CPU per event and the critical path, decoding
//     about a tenth (BENCHMARKS.md), so on the 2-core reference machine more decoding
//     goroutines would only compete with the commit; worth revisiting with more cores.
package kafka
