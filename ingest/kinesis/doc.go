// Package kinesis is the Kinesis stream source: one consumer reads every shard of a stream into the embedded store exactly once.
//
// # Design
//
// A coordinator goroutine owns the shards, the ingest/pipeline.Pipeline and the commits; each
// shard being read has a reader goroutine that calls GetRecords in a loop (every PollInterval
// when caught up, at most five times a second when behind) and hands each answer to the
// coordinator over an unbuffered channel, so what is held in memory is bounded by the batch
// and one answer per shard. Records are routed to a dataset (Dataset, or by a top-level string
// field), decoded and validated by the push API's decoder, and batched exactly as the Kafka
// source's (ingest/kafka); a batch is committed when it holds Batch.MaxEvents records (it may
// pass that by one GetRecords answer) or its oldest record has waited Batch.MaxWait.
//
// A commit is one store transaction (store.PositionedWriter, implemented by store/embedded):
// the rows of every dataset, the dead letters, and each shard's new position under the source
// key "kinesis:<name>", partition = shard id, with the position the source expects to be
// stored. The stored position is the truth (DESIGN §6):
//
//   - A shard's position is the sequence number of the last record committed. On start a
//     shard resumes AFTER_SEQUENCE_NUMBER its stored position; without one it starts at
//     StartPosition (TRIM_HORIZON by default, LATEST, or AT_TIMESTAMP).
//   - A shard read to its end (split or merged: GetRecords answers without a
//     NextShardIterator) is committed at once with the position "closed:<last sequence
//     number>" ("closed:" when it gave this source no record). A closed position is final:
//     the shard is never read again.
//   - Resharding: a shard is read only once each of its parents (ParentShardId,
//     AdjacentParentShardId) is stored closed, or no longer listed (trimmed past retention).
//     So every record of a parent is committed before any record of its children, also
//     across restarts. A child of a shard this source read starts at TRIM_HORIZON whatever
//     StartPosition says, so nothing put after a reshard is skipped. Under LATEST, a shard
//     already closed when first seen (with no stored position) is skipped, and its children
//     start at LATEST: "from now" holds for streams resharded before the first start.
//   - Shards are discovered with ListShards at start, every DiscoveryInterval, and at once
//     when a shard is stored closed (its children are needed next).
//   - A commit that fails (the store is down, or refuses a stale expected position:
//     store.ErrPositionConflict) drops everything held; after a backoff the stored positions
//     are read again (a write that timed out may have committed) and every shard is read again
//     from there. A sequence-number guard drops records read twice by a reader that restarted.
//   - Kinesis calls are not retried by the SDK (aws.NopRetryer): the readers retry with
//     exponential backoff and jitter (100ms to 10s). Throttling
//     (ProvisionedThroughputExceeded, LimitExceeded, KMSThrottling) is counted in
//     olapgate_kinesis_throttled_total and logged at debug level; other failures are logged
//     and get a fresh iterator. An expired iterator (ExpiredIteratorException, after five idle
//     minutes) is replaced by one after the last record the reader handed on.
//
// Records aggregated by the Kinesis Producer Library (magic 0xF3899AC2, a protobuf
// AggregatedRecord, its MD5) are split into their user records, each with its own partition
// key, as the KCL does; one that is not a well-formed aggregate is taken whole. The user
// records of one Kinesis record are always committed together, so the sequence number stays
// the position; a dead-lettered user record's position is "<sequence number>/<index>".
//
// Dead letters (records that cannot be routed or are refused by validation, non-UTF-8
// payloads, datasets not declared) are rows of a local dataset, pipeline.DeadLetterDataset
// (default olapgate_deadletter), with the reason, the raw payload (base64 when not UTF-8),
// stream, shard id, sequence number and partition key, committed in the same transaction.
// olapgate_stream_events_total{source,dataset,outcome}, olapgate_stream_deadletters_total and
// olapgate_stream_commits_total{outcome} are the Kafka source's series and move only after a
// commit; olapgate_kinesis_millis_behind_latest{source,stream,shard} is MillisBehindLatest of
// each shard's last GetRecords.
//
// Credentials are static (credentials.source: static) or read from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN at each request (the default), or any
// aws.CredentialsProvider given with WithCredentials. Endpoint overrides the regional
// endpoint (VPC endpoints, LocalStack, kinesalite). Tests run against kinesalite, a Kinesis
// API server from npm, started by internal/kinesalitetest; kinesalite never throttles, so
// throttling and expired iterators are tested through a proxy in front of it that refuses
// some calls as Kinesis does.
//
// # Not done yet
//
//   - Shard leases for several instances (a lease table with conditional writes, e.g. on
//     DynamoDB; dynalite from npm is a local one for tests): today one instance reads the
//     whole stream. Two instances would not store anything twice (the expected-position
//     check refuses the loser's commits, which then re-reads), but they would both read
//     every shard.
//   - Enhanced fan-out (SubscribeToShard over HTTP/2) and streams named by ARN.
//   - Targets other than the embedded store (for ClickHouse: an insert made idempotent with
//     insert_deduplication_token from the shard's sequence-number range), and the Pinot sink
//     producing into a stream.
//   - Positions are keyed by shard id alone: pointing a source at another stream needs a
//     new source name (the old positions would be meaningless there).
//   - Region and credentials from the AWS SDK's default chain (shared config files, instance
//     roles, SSO) without WithCredentials: that needs the SDK's config module.
package kinesis
