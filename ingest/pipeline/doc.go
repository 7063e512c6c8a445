// Package pipeline turns stream records into store batches: routing, decoding and validation, batching, and dead letters; and holds what the Kafka and Kinesis sources' configs and ClickHouse commits share.
package pipeline
