package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/olapgate/olapgate/gateway"
	"github.com/olapgate/olapgate/ingest/kafka"
	"github.com/olapgate/olapgate/ingest/pinotsink"
	"github.com/olapgate/olapgate/internal/dataset"
)

// pinotSink is a Kafka or Kinesis Pinot sink.
type pinotSink interface {
	gateway.StreamSink
	Close() error
	String() string
}

// openPinotSinks makes the Pinot datasets with a stream (backends.pinot.tables.<name>.kafka
// or .kinesis) writable: push ingest produces their accepted events to the topic or stream the
// REALTIME table consumes and answers ack "stream". Clients connect on first use, so a stream
// that is down fails pushes, not start-up.
func (s *Server) openPinotSinks() error {
	pc := s.cfg.Backends.Pinot
	if pc == nil {
		return nil
	}
	for _, d := range s.cfg.Datasets {
		if d.Backend != dataset.BackendPinot {
			continue
		}
		setup, ok := pc.TableFor(d.Name)
		if !ok {
			continue
		}
		var sink pinotSink
		switch {
		case setup.Kafka != nil:
			k := setup.Kafka
			brokers := k.ProducerBrokers
			if len(brokers) == 0 {
				brokers = k.Brokers
			}
			var opts []kgo.Opt
			if sk := pc.SinkKafka; sk != nil {
				var err error
				if opts, err = kafka.SecurityOptions(kafka.TLSConfig(sk.TLS), kafka.SASLConfig(sk.SASL), nil); err != nil {
					return fmt.Errorf("prepare pinot sink of dataset %s: backends.pinot.sinkKafka: %w", d.Name, err)
				}
			}
			ks, err := pinotsink.New(pinotsink.Config{Brokers: brokers, Topic: k.Topic, TransactionalID: k.TransactionalID, Opts: opts}, d)
			if err != nil {
				return fmt.Errorf("prepare pinot sink of dataset %s: %w", d.Name, err)
			}
			sink = ks
		case setup.Kinesis != nil:
			k := setup.Kinesis
			// The keys Pinot's consumer is given, when the config gives them; else AWS_* variables.
			cl := pinotsink.NewKinesisClient(k.Region, k.Endpoint, k.Properties["accessKey"], k.Properties["secretKey"])
			ks, err := pinotsink.NewKinesis(pinotsink.KinesisConfig{Stream: k.Stream, Client: cl}, d)
			if err != nil {
				return fmt.Errorf("prepare pinot sink of dataset %s: %w", d.Name, err)
			}
			sink = ks
		default:
			continue
		}
		s.pinotSinks = append(s.pinotSinks, sink)
		s.gw.SetStreamSink(d.Name, sink)
		s.log.Info("pinot sink", "dataset", d.Name, "sink", sink.String())
	}
	return nil
}

// closePinotSinks waits for the Kafka sinks' transactions in flight and closes the clients.
func (s *Server) closePinotSinks() {
	for _, sink := range s.pinotSinks {
		if err := sink.Close(); err != nil {
			s.log.Warn("close pinot sink", "sink", sink.String(), "err", err)
		}
	}
	s.pinotSinks = nil
}
