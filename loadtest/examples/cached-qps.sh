#!/usr/bin/env bash
# Cached-query QPS and p99 of BENCHMARKS.md: ghz (closed loop) against olapgate's
# QueryService/Aggregate answered from the result cache, and against a bare grpc-go
# Health/Check server (loadtest/cmd/barehealth), alternating, same concurrency, same machine.
#   loadtest/examples/cached-qps.sh [rounds] [outdir]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-3}
out=${2:-/tmp/olapgate-cached}
mkdir -p "$out"
go build -o "$out/olapgate" "$here/../../cmd/olapgate"
go build -o "$out/barehealth" "$here/../cmd/barehealth"
ghz=${GHZ:-$(go env GOPATH)/bin/ghz}
rm -rf "$out/data"
(cd "$out" && GOMAXPROCS=1 exec taskset -c 1 ./olapgate serve --data-dir "$out/data" --otlp-grpc-addr off --otlp-http-addr off >"$out/serve.log" 2>&1) &
srv=$!
(GOMAXPROCS=1 exec taskset -c 1 "$out/barehealth" -addr 127.0.0.1:9091 >/dev/null 2>&1) &
bare=$!
trap 'kill $srv $bare 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf localhost:8080/readyz >/dev/null && break; sleep 0.1; done
"$out/olapgate" ingest --dataset pageviews --sample 100000 >/dev/null
top10='{"query":{"dataset":"pageviews","timeRange":{"start":"now-24h"},"groupBy":["page"],"metrics":[{"agg":"SUM","field":"bytes","as":"b"}],"orderBy":[{"by":"b","desc":true}],"limit":10,"options":{"maxStalenessMs":600000}}}'
run() { # name call data addr
	taskset -c 0 "$ghz" --insecure --cpus 1 -c 16 -z 10s --call "$2" -d "$3" "$4" --format json -o "$out/$1.json" >/dev/null 2>&1
	python3 -c "import json,sys; r=json.load(open('$out/$1.json')); lat={d['percentage']:d['latency']/1e6 for d in r['latencyDistribution']}; print(f'$1: {r[\"rps\"]:.0f} rps, p50 {lat[50]:.2f} ms, p99 {lat[99]:.2f} ms, errors {sum(v for k,v in r.get(\"statusCodeDistribution\",{}).items() if k!=\"OK\")}')"
}
for i in $(seq "$rounds"); do
	run "health-$i" grpc.health.v1.Health/Check '{}' 127.0.0.1:9091
	run "cached-top10-$i" olapgate.v1.QueryService/Aggregate "$top10" 127.0.0.1:9090
done
