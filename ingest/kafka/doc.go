// Package kafka is the Kafka stream source: a franz-go consumer group whose records become rows in the embedded store or in ClickHouse, exactly once in effect.
//
// # Design
//
// Records of a poll go to an ingest/pipeline.Pipeline: routed to a dataset (per topic, or by
// a top-level string field such as "type"), decoded and validated by the push API's decoder
// (ingest/decode, so stream events obey the same rules and give the same reasons), and
// batched. A batch is flushed when it holds Batch.MaxEvents records or its oldest record has
// waited Batch.MaxWait.
//
// Into the embedded store, a flush is committed in one store transaction (store.PositionedWriter, implemented by
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
// # Into ClickHouse
//
// A source whose datasets are on the clickhouse backend (all of them: Config.Backend refuses a
// source that mixes backends, since a source keeps its positions one way) cannot commit rows
// and offsets in one transaction. The group's committed offsets are the truth instead, and
// the inserts are idempotent (DESIGN §6; the design of ClickHouse Kafka Connect's exactly-once
// mode, which keeps the last inserted range per partition, with the range kept in the group):
//
//   - A flush is decoded partition by partition: each partition's records since its last
//     commit are one range [start, last], start being the offset the partition was committed
//     at (the first record's offset when nothing was committed), last the last record's.
//   - The committer first commits, per partition, offset start with commit metadata
//     "pending:<last>" (an OffsetCommit with the member id and generation, so a member that
//     was fenced out of the group is refused here, before it inserts anything). Then it
//     inserts each dataset's rows of the range (and its dead letters) with the token
//     "kafka:<name>/<topic>/<partition>/<start>-<last>/<dataset>" (clickhouse.WithInsertToken;
//     the store appends /0, /1, ... per INSERT of insertRows rows). Then it commits offset
//     last+1 without metadata. Jobs queued behind each other are merged per partition into
//     one range (bigger inserts: ClickHouse wants few, large ones).
//   - On assignment, and on every rewind after a failure, the source fetches the group's
//     committed offsets with their metadata (no positions are stored in ClickHouse). A
//     partition starts at its committed offset; if the metadata says "pending:<last>", the
//     range up to last may or may not have been inserted (a crash, a lost answer), so it is
//     read again and inserted again exactly, alone, with the same tokens, before anything
//     after it: the tables drop the INSERTs whose tokens they remember, whole, and store
//     those that had not landed. The bounds are what makes this work, so they are recorded
//     before inserting rather than derived from batch sizes or timers.
//   - A failed write fails the jobs queued behind it too (their offsets would skip the failed
//     range), and the source rewinds to the group's offsets. If the offsets cannot be read,
//     nothing is read until they can.
//   - Tables must remember tokens long enough: store/clickhouse creates MergeTree tables with
//     non_replicated_deduplication_window (dedupWindow, 10,000 INSERTs by default);
//     replicated tables deduplicate by default (replicated_deduplication_window, 1,000 by
//     default in recent versions: raise it for many partitions or small batches). A pending
//     range is replayed right after a restart or failure, so only the INSERTs since then
//     need to be remembered. A table written by several sources is fine: tokens name the
//     source.
//   - Dead letters go to a dead-letter table on ClickHouse (the dead-letter dataset with the
//     clickhouse backend, created by Start), inserted with the tokens of their range like
//     the rows: exactly once too. Sources of different backends cannot share a
//     dead-letter dataset name (internal/config refuses it).
//   - Costs and limits: two synchronous offset commits per write (more when a replayed range
//     precedes new records). A pending range partly deleted by retention before the replay
//     is inserted as what is left of it (the tokens still drop what landed); one whose last
//     record is gone waits for a later record to close it. A dataset redefined between a
//     crash and its replay decodes the range anew, and the tokens keep what landed first.
//     Other partitions do not wait for a replay; the replayed range is held in memory (its
//     size is bounded by the largest merged commit).
//     Group offsets are committed by raw OffsetCommit requests with metadata (kgo's commits
//     carry the member id as metadata), so group tooling sees progress as usual.
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
//   - Pinot datasets as targets: Pinot consumes its topics itself (see the Pinot sink).
//   - ClickHouse targets: dead letters to a Kafka topic; a fencing test of a member that
//     missed a rebalance (the generation check of the pending commit is what fences it; the
//     embedded path has TestZombieCommitRefused).
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
