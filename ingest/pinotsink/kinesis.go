package pinotsink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Kinesis limits on PutRecords (docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html).
const (
	kinesisMaxRecords      = 500
	kinesisMaxRequestBytes = 5 << 20
	kinesisMaxKeyRunes     = 256
)

// KinesisAPI is the part of the Kinesis client the sink uses (*kinesis.Client).
type KinesisAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// KinesisConfig configures the Kinesis sink of one dataset.
type KinesisConfig struct {
	// Stream is the stream the dataset's REALTIME table consumes.
	Stream string
	// Client puts the records (NewKinesisClient, or any *kinesis.Client).
	Client KinesisAPI
	// Timeout bounds one Write, retries included, when its context has no earlier deadline.
	// Default 30s.
	Timeout time.Duration
}

// KinesisSink puts one dataset's batches into a Kinesis stream. Kinesis has no transactions:
// a Write retries the records Kinesis refused (throttling, internal failures) until all are
// in or its deadline passes, so a failed Write may have put part of its batch, and the
// client's retry puts those again. Delivery is at least once; the table's dedupConfig on the
// primary key (the records' partition key, so each key stays in one shard) removes the copies.
type KinesisSink struct {
	cfg KinesisConfig
	d   *dataset.Dataset
	enc encoder

	mu     sync.Mutex
	closed bool
}

// NewKinesis returns the Kinesis sink of dataset d (validated).
func NewKinesis(cfg KinesisConfig, d *dataset.Dataset) (*KinesisSink, error) {
	if cfg.Stream == "" {
		return nil, errors.New("pinot kinesis sink: stream is required")
	}
	if cfg.Client == nil {
		return nil, errors.New("pinot kinesis sink: a client is required")
	}
	if len(d.Columns()) == 0 {
		return nil, fmt.Errorf("pinot kinesis sink for dataset %s: dataset is not validated", d.Name)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	enc, err := newEncoder(d)
	if err != nil {
		return nil, err
	}
	return &KinesisSink{cfg: cfg, d: d, enc: enc}, nil
}

// NewKinesisClient is a Kinesis client for region, at endpoint when set (a VPC endpoint,
// kinesalite). With accessKey empty, credentials are read from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN at each request, so rotated ones are picked up.
func NewKinesisClient(region, endpoint, accessKey, secretKey string) *kinesis.Client {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		if accessKey != "" {
			return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, Source: "olapgate config"}, nil
		}
		c := aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken: os.Getenv("AWS_SESSION_TOKEN"), Source: "environment"}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return aws.Credentials{}, errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		}
		return c, nil
	})
	o := kinesis.Options{Region: region, Credentials: creds, HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	if endpoint != "" {
		o.BaseEndpoint = aws.String(endpoint)
	}
	return kinesis.New(o)
}

// Write puts the batch's rows and returns once every one is in the stream (see KinesisSink).
func (s *KinesisSink) Write(ctx context.Context, b *store.Batch) error {
	if b == nil || b.N == 0 {
		return nil
	}
	if b.Dataset != nil && b.Dataset.Name != s.d.Name {
		return fmt.Errorf("pinot kinesis sink for dataset %s: batch of dataset %s", s.d.Name, b.Dataset.Name)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	entries := s.Entries(b)
	for lo := 0; lo < len(entries); {
		hi, size := lo, 0
		for hi < len(entries) && hi-lo < kinesisMaxRecords {
			n := len(entries[hi].Data) + len(aws.ToString(entries[hi].PartitionKey))
			if hi > lo && size+n > kinesisMaxRequestBytes {
				break
			}
			size += n
			hi++
		}
		if err := s.put(ctx, entries[lo:hi]); err != nil {
			return fmt.Errorf("put into kinesis stream %s: %w (events from index %d on may not be in the stream; a retry may put earlier ones twice, which Pinot's dedup on the primary key removes)", s.cfg.Stream, err, lo)
		}
		lo = hi
	}
	return nil
}

// put puts entries, retrying the refused ones with backoff until ctx ends.
func (s *KinesisSink) put(ctx context.Context, entries []types.PutRecordsRequestEntry) error {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := s.cfg.Client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(s.cfg.Stream), Records: entries})
		switch {
		case err != nil && permanent(err):
			return err
		case err == nil && aws.ToInt32(out.FailedRecordCount) == 0:
			return nil
		case err == nil:
			// Keep the refused entries, in order, for the next attempt.
			var again []types.PutRecordsRequestEntry
			var last string
			for i, r := range out.Records {
				if r.ErrorCode != nil && i < len(entries) {
					again = append(again, entries[i])
					last = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorMessage)
				}
			}
			entries = again
			err = fmt.Errorf("%d records refused (%s)", len(again), last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %d attempts: %w (last: %v)", attempt, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// permanent reports errors a retry cannot fix.
func permanent(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ResourceNotFoundException", "ValidationException", "InvalidArgumentException", "AccessDeniedException",
			"KMSAccessDeniedException", "KMSDisabledException", "KMSNotFoundException", "UnrecognizedClientException":
			return true
		}
	}
	return false
}

// Entries encodes the batch's rows as the records Write puts. The partition key is the
// record key (its SHA-256 when longer than Kinesis's 256 characters); rows without one are
// spread by a hash of their value.
func (s *KinesisSink) Entries(b *store.Batch) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, b.N)
	var buf []byte
	for i := 0; i < b.N; i++ {
		var key []byte
		key, buf = s.enc.row(b, i, buf[:0])
		pk := string(key)
		switch {
		case pk == "":
			h := fnv.New64a()
			_, _ = h.Write(buf)
			pk = strconv.FormatUint(h.Sum64(), 36)
		case utf8.RuneCountInString(pk) > kinesisMaxKeyRunes:
			sum := sha256.Sum256(key)
			pk = hex.EncodeToString(sum[:])
		}
		out[i] = types.PutRecordsRequestEntry{Data: append([]byte(nil), buf...), PartitionKey: aws.String(pk)}
	}
	return out
}

// Close refuses further writes. Safe to call twice.
func (s *KinesisSink) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// String describes the sink for logs.
func (s *KinesisSink) String() string {
	return fmt.Sprintf("pinot kinesis sink %s → %s", s.d.Name, s.cfg.Stream)
}
