// Package kinesis is the Kinesis stream source: the shards of a stream become rows in the embedded store or in ClickHouse, exactly once in effect.
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
// Into the embedded store, a commit is one store transaction (store.PositionedWriter,
// implemented by store/embedded): the rows of every dataset, the dead letters, and each
// shard's new position under the source key "kinesis:<name>", partition = shard id, with the
// position the source expects to be stored. The stored position is the truth (DESIGN §6):
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
// # Into ClickHouse
//
// A source whose datasets are on the clickhouse backend (all of them: Config.Backend refuses a
// source that mixes backends) cannot commit rows and sequence numbers in one transaction. Its
// checkpoints are kept apart (in the server's embedded store under the same source key, or in
// the lease table: see Leases) and the inserts are idempotent (DESIGN §6), as the Kafka
// source does it (ingest/kafka):
//
//   - A flush takes, per shard, the records read since its checkpoint as one range [first,
//     last] of sequence numbers. It first checkpoints each shard at "pending:<first>:<last>"
//     (conditional: on the expected previous checkpoint, or on the lease), then inserts each
//     dataset's rows of the range, and its dead letters, with the insert_deduplication_token
//     "kinesis:<name>/<stream>/<shard>/<first>-<last>/<dataset>" (clickhouse.WithInsertToken;
//     the store appends /0, /1, ... per INSERT), then checkpoints the shard at last (or
//     "closed:<last>" at its end).
//   - A pending checkpoint found on start or after a failure (a crash, a lost answer) is a
//     range that may or may not have landed: the shard is read again AT_SEQUENCE_NUMBER first,
//     and the range is inserted again exactly, with the recorded bounds and so the same
//     tokens, before anything after it; ClickHouse drops the INSERTs it has seen, whole. A
//     shard replaying a range is not flushed until the range's last record is read again (or
//     the shard ends), so the replay is never split.
//   - Tables must remember tokens long enough (store/clickhouse's dedupWindow, or
//     replicated_deduplication_window): only the INSERTs since the last failure matter.
//   - Dead letters go to the dead-letter dataset on ClickHouse, inserted with the tokens of
//     their range: exactly once too.
//   - Costs and limits: two checkpoint writes per flush (more when a replayed range precedes
//     new records). A pending range whose last record was trimmed past retention before the
//     replay waits for a later record (or the shard's end) to close it. Under LATEST, a shard closed before it was first seen is checkpointed
//     "closed:" and its children start at TRIM_HORIZON (other instances wait for that
//     checkpoint; nothing after the reshard is skipped).
//
// # Leases
//
// With Config.Leases, the instances of a source (same name, datasets on ClickHouse) share
// the stream's shards through a DynamoDB table, as the KCL does. One item per shard holds its
// owner, a counter every renewal and take bumps, an epoch every take bumps, the checkpoint
// (the positions above, so a shard moves between instances with its pending range) and the
// parent shard ids. Every write is conditional:
//
//   - Each instance creates the leases of the shards ListShards shows (parents first), renews
//     its own every RenewInterval (owner and epoch unchanged), and takes leases whose counter
//     it saw unchanged: free ones, expired ones (not renewed for Duration, by its own clock:
//     no clocks are compared across instances), and to balance, one per round from an
//     instance holding more than its share (the active leases over the live instances,
//     rounded up). A lease it cannot renew for Duration, or finds taken, it gives up.
//   - A shard is leased only once every parent's lease is checkpointed closed (KCL's
//     SHARD_END; or the parent is gone from the stream), so every record of a parent is
//     inserted before any of its children's, whichever instances read them. A child of a
//     leased parent starts at TRIM_HORIZON. A shard's lease is released once it is
//     checkpointed closed.
//   - Checkpoints (pending and done) are conditional on the owner and the epoch: an instance
//     that lost a lease cannot move its checkpoint, even after taking the lease back. It
//     may still finish an insert it had recorded as pending; the new owner replays that range
//     with the same tokens, so ClickHouse keeps one copy whichever lands first.
//   - When the leases held change, the source commits what it read, then reads the shards it
//     holds from their checkpoints. Shutdown commits, then releases its leases, so the
//     others take them at once; a crashed instance's leases are taken after Duration.
//   - Costs: one DynamoDB write per lease every RenewInterval, a consistent scan of the table
//     per round, and the checkpoint writes of each flush. olapgate_kinesis_leases_held{source}
//     is the number of leases an instance holds. The instances need dynamodb:DescribeTable,
//     Scan, GetItem, PutItem and UpdateItem on the table, and CreateTable unless it exists.
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
//   - Leases into the embedded store: it is single-process (DESIGN §6), so Config.Backend
//     refuses leases there. Two instances over two data directories would each store every
//     record.
//   - Lease items are never deleted: a shard trimmed past retention leaves its (closed)
//     lease behind. Leases are keyed by shard id, one table per source.
//   - Enhanced fan-out (SubscribeToShard over HTTP/2) and streams named by ARN.
//   - The Pinot sink producing into a stream.
//   - Positions are keyed by shard id alone: pointing a source at another stream needs a
//     new source name (the old positions would be meaningless there).
//   - Region and credentials from the AWS SDK's default chain (shared config files, instance
//     roles, SSO) without WithCredentials: that needs the SDK's config module.
package kinesis
