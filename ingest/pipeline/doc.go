// Package pipeline turns stream records into store batches: routing, decoding and validation, batching, and dead letters.
package pipeline
