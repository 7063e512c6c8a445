package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c := Default()
	if c.Server.HTTPAddr != "127.0.0.1:8080" || c.Server.GRPCAddr != "127.0.0.1:9090" || c.Server.DataDir != "./data" {
		t.Fatalf("server defaults: %+v", c.Server)
	}
	if c.Ingest.MaxBodyBytes != 16<<20 || c.Ingest.MaxEvents != 10000 || c.Embedded.DedupWindow != 24*time.Hour {
		t.Fatalf("limits: %+v %+v", c.Ingest, c.Embedded)
	}
	if len(c.Datasets) != 1 || c.Datasets[0].Name != "pageviews" {
		t.Fatalf("datasets: %v", c.Datasets)
	}
	empty, err := Parse(nil)
	if err != nil || len(empty.Datasets) != 1 {
		t.Fatalf("empty file: %v %v", empty, err)
	}
}

func TestParse(t *testing.T) {
	good := `
server: {httpAddr: "127.0.0.1:18080"}
embedded: {memoryLimit: 2GB, threads: 1, dedupWindow: 1h}
datasets:
  - name: clicks
    timeColumn: ts
    eventId: click_id
    dimensions: [{name: campaign, type: string}, {name: color, type: string}, {name: status, type: int}]
    metrics: [{name: price, type: float}]
`
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Datasets[0]
	if c.Server.HTTPAddr != "127.0.0.1:18080" || c.Server.GRPCAddr != "127.0.0.1:9090" || c.Embedded.DedupWindow != time.Hour {
		t.Fatalf("parsed: %+v %+v", c.Server, c.Embedded)
	}
	if col, ok := d.Column("click_id"); !ok || col.Type != "string" {
		t.Fatalf("implicit eventId column: %+v %v", col, ok)
	}
	if d.Backend != "embedded" {
		t.Fatalf("backend default: %q", d.Backend)
	}

	bad := []struct{ name, yaml, want string }{
		{"unknown key", "servr: {}", "servr"},
		{"bad type", "datasets: [{name: a, timeColumn: t, dimensions: [{name: x, type: text}]}]", `type "text"`},
		{"metric string", "datasets: [{name: a, timeColumn: t, metrics: [{name: x, type: string}]}]", "metric x"},
		{"no time column", "datasets: [{name: a}]", "timeColumn"},
		{"duplicate field", "datasets: [{name: a, timeColumn: t, dimensions: [{name: x, type: string}, {name: X, type: int}]}]", "declared twice"},
		{"duplicate dataset", "datasets: [{name: a, timeColumn: t}, {name: a, timeColumn: t}]", "declared twice"},
		{"bad name", "datasets: [{name: 'a b', timeColumn: t}]", "dataset name"},
		{"pinot without backend section", "datasets: [{name: a, timeColumn: t, backend: pinot}]", "needs a backends.pinot section"},
		{"clickhouse without backend section", "datasets: [{name: a, timeColumn: t, backend: clickhouse}]", "needs a backends.clickhouse section"},
		{"pinot without brokers", "backends: {pinot: {}}", "backends.pinot"},
		{"unknown backend key", "backends: {pinot: {broker: [x]}}", "broker"},
		{"cors origin without scheme", "server: {cors: {allowedOrigins: [dash.example.com]}}", "server: cors.allowedOrigins[0]"},
		{"collector cors wildcard", "collector: {cors: {allowedOrigins: ['https://*.*.x.com']}}", "at most one * wildcard"},
		{"query log name clash", "datasets: [{name: olapgate_queries, timeColumn: t}]", "query log"},
		{"max events", "ingest: {maxEvents: -1}", "maxEvents"},
	}
	several := "backends: {pinot: {brokers: [http://127.0.0.1:8099]}, clickhouse: {addr: 127.0.0.1:9000, maxConns: 4}}\n" +
		"datasets: [{name: p, timeColumn: t, backend: pinot}, {name: c, timeColumn: t, backend: clickhouse}, {name: e, timeColumn: t}]"
	gc, err := Parse([]byte(several))
	if err != nil {
		t.Fatalf("several backends: %v", err)
	}
	if gc.Backends.ClickHouse.MaxConns != 4 || len(gc.Backends.Pinot.Brokers) != 1 {
		t.Errorf("backends %+v", gc.Backends)
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want mention of %q", err, tc.want)
			}
		})
	}
}

func TestKinesisSources(t *testing.T) {
	const datasets = "datasets: [{name: clicks, timeColumn: t}, {name: views, timeColumn: t}]\n"
	good := datasets + `
sources:
  kinesis:
    - name: clicks
      stream: clickstream
      region: eu-west-1
      endpoint: http://127.0.0.1:4567
      credentials: {source: static, accessKey: AKID, secretKey: secret}
      startPosition: AT_TIMESTAMP
      startTimestamp: 2026-11-22T10:00:00Z
      route: {field: type, datasets: {click: clicks, view: views}}
      batch: {maxEvents: 5000, maxWait: 250ms}
      pollInterval: 500ms
      getRecordsLimit: 1000
      discoveryInterval: 1m
    - {name: views, stream: views, region: us-east-1, dataset: views}
`
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	k := c.Sources.Kinesis[0]
	if len(c.Sources.Kinesis) != 2 || k.Stream != "clickstream" || k.Credentials.AccessKey != "AKID" ||
		!k.StartTimestamp.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) || k.Batch.MaxWait != 250*time.Millisecond ||
		k.PollInterval != 500*time.Millisecond || k.DiscoveryInterval != time.Minute || k.GetRecordsLimit != 1000 ||
		k.Route == nil || k.Route.Datasets["view"] != "views" {
		t.Fatalf("parsed kinesis source: %+v", k)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"name twice", "sources: {kinesis: [{name: a, stream: s, region: us-east-1, dataset: clicks}, {name: a, stream: t, region: us-east-1, dataset: clicks}]}", "sources.kinesis[1]: name \"a\" is used twice"},
		{"unknown dataset", "sources: {kinesis: [{name: a, stream: s, region: us-east-1, dataset: nope}]}", "sources.kinesis[0]: kinesis source a: route: dataset \"nope\" is not declared"},
		{"no region", "sources: {kinesis: [{name: a, stream: s, dataset: clicks}]}", "region is required"},
		{"unknown key", "sources: {kinesis: [{name: a, stream: s, region: us-east-1, dataset: clicks, shards: 2}]}", "shards"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(datasets + tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want mention of %q", err, tc.want)
			}
		})
	}
}

func TestStreamSourceBackends(t *testing.T) {
	const base = "backends: {clickhouse: {addr: 127.0.0.1:9000}, pinot: {brokers: [http://127.0.0.1:8099]}}\n" +
		"datasets: [{name: e, timeColumn: t}, {name: c, timeColumn: t, backend: clickhouse}, {name: c2, timeColumn: t, backend: clickhouse}, {name: p, timeColumn: t, backend: pinot}]\n"
	good := base + `
sources:
  kafka:
    - {name: local, brokers: ["k:9092"], topics: [{topic: a, dataset: e}]}
    - name: ch
      brokers: ["k:9092"]
      topics: [{topic: b, route: {field: type, datasets: {x: c, y: c2}}}]
      deadLetter: {dataset: ch_deadletter}
    - {name: ch2, brokers: ["k:9092"], topics: [{topic: d, dataset: C}], deadLetter: {dataset: ch_deadletter}}
`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatalf("kafka sources into the embedded store and ClickHouse: %v", err)
	}
	kinesisGood := base + `
sources:
  kinesis:
    - {name: local, stream: a, region: us-east-1, dataset: e}
    - {name: ch, stream: b, region: us-east-1, dataset: c, deadLetter: {dataset: ch_deadletter}, leases: {table: ch_leases, duration: 6s}}
`
	gc, err := Parse([]byte(kinesisGood))
	if err != nil {
		t.Fatalf("kinesis sources into the embedded store and ClickHouse: %v", err)
	}
	if l := gc.Sources.Kinesis[1].Leases; l == nil || l.Table != "ch_leases" || l.Duration != 6*time.Second {
		t.Fatalf("parsed leases: %+v", l)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"mixed backends", `sources: {kafka: [{name: m, brokers: ["k:9092"], topics: [{topic: a, dataset: e}, {topic: b, dataset: c}]}]}`, "must all be on one backend"},
		{"pinot", `sources: {kafka: [{name: m, brokers: ["k:9092"], topics: [{topic: a, dataset: p}]}]}`, "uses the pinot backend"},
		{"dead letters on two backends", `sources: {kafka: [{name: a, brokers: ["k:9092"], topics: [{topic: a, dataset: e}]}, {name: b, brokers: ["k:9092"], topics: [{topic: b, dataset: c}]}]}`, "sources.kafka[1]: dead-letter dataset olapgate_deadletter is on embedded"},
		{"kinesis dead letters on two backends", `sources: {kafka: [{name: b, brokers: ["k:9092"], topics: [{topic: b, dataset: c}]}], kinesis: [{name: k, stream: s, region: us-east-1, dataset: e}]}`, "sources.kinesis[0]: dead-letter dataset olapgate_deadletter is on clickhouse for another source and would be on embedded"},
		{"kinesis mixed backends", `sources: {kinesis: [{name: k, stream: s, region: us-east-1, route: {field: type, datasets: {x: e, y: c}}}]}`, "must all be on one backend"},
		{"kinesis pinot", `sources: {kinesis: [{name: k, stream: s, region: us-east-1, dataset: p}]}`, "uses the pinot backend"},
		{"kinesis leases into embedded", `sources: {kinesis: [{name: k, stream: s, region: us-east-1, dataset: e, leases: {table: k_leases}}]}`, "sources.kinesis[0]: kinesis source k: leases: the embedded store is single-process"},
		{"kinesis lease table name", `sources: {kinesis: [{name: k, stream: s, region: us-east-1, dataset: c, leases: {table: "a b"}}]}`, "leases: table \"a b\""},
		{"kinesis lease table twice", `sources: {kinesis: [{name: k, stream: s, region: us-east-1, dataset: c, leases: {table: kl1}}, {name: k2, stream: s2, region: us-east-1, dataset: c2, leases: {table: kl1}}]}`, "sources.kinesis[1]: leases.table kl1 is source k's already"},
		{"kinesis lease renew", `sources: {kinesis: [{name: k, stream: s, region: us-east-1, dataset: c, leases: {table: k_l, duration: 2s, renewInterval: 1500ms}}]}`, "leases: renewInterval 1.5s: want at most half the duration, 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base + tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want mention of %q", err, tc.want)
			}
		})
	}
}

func TestPinotSinkKafkaSecurity(t *testing.T) {
	const pinot = "backends: {pinot: {brokers: [http://127.0.0.1:8099], sinkKafka: "
	c, err := Parse([]byte(pinot + "{tls: {enabled: true, serverName: kafka}, sasl: {mechanism: SCRAM-SHA-512, user: u, password: p}}}}"))
	if err != nil {
		t.Fatal(err)
	}
	if sk := c.Backends.Pinot.SinkKafka; !sk.TLS.Enabled || sk.TLS.ServerName != "kafka" || sk.SASL.Mechanism != "SCRAM-SHA-512" || sk.SASL.Password != "p" {
		t.Fatalf("sinkKafka %+v", sk)
	}
	for yaml, want := range map[string]string{
		"{sasl: {mechanism: PLAIN, user: u}}}}":      "backends.pinot.sinkKafka: sasl PLAIN: user and password are required",
		"{sasl: {mechanism: AWS_MSK_IAM}}}}":         "MSK serves IAM authentication over TLS only",
		"{tls: {caFile: /ca.pem}}}}":                 "tls: settings given but enabled is false",
		"{tls: {enabled: true, certFile: /c.pem}}}}": "certFile and keyFile go together",
	} {
		if _, err := Parse([]byte(pinot + yaml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want mention of %q", yaml, err, want)
		}
	}
}
