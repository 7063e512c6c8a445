#!/usr/bin/env bash
# Checks olapgate loadtest against independent tools on the synthetic dataset (BENCHMARKS.md):
# k6 constant-arrival-rate (open loop) beside `olapgate loadtest` over HTTP at 0.5x and 2x the
# knee, and ghz and wrk (closed loop) beside `olapgate loadtest --workers` over gRPC and HTTP
# below the knee.
#   loadtest/examples/compare.sh [outdir]   (needs k6 v1.8.1 and ghz v0.121.0 in GOPATH/bin,
#   wrk from Debian)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp/olapgate-compare}
mkdir -p "$out"
go build -o "$out/olapgate" "$here/../../cmd/olapgate"
bin="$out/olapgate"; gobin=$(go env GOPATH)/bin
rm -rf "$out/data-synthetic"
(cd "$out" && GOMAXPROCS=1 exec taskset -c 1 "$bin" serve --config "$here/synthetic.yaml" >"$out/serve.log" 2>&1) &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf localhost:8080/readyz >/dev/null && break; sleep 0.1; done
# Warm the limiter up.
taskset -c 0 "$bin" loadtest --target http://127.0.0.1:8080 --mix "$here/single-mix.yaml" --rate 200 --duration 5s >/dev/null 2>&1 || true
for rate in 100 400; do
	taskset -c 0 "$gobin/k6" run -q -e RATE=$rate -e DURATION=15s --summary-export "$out/k6-$rate.json" "$here/k6-synthetic.js" >/dev/null 2>&1 || true
	python3 - "$out/k6-$rate.json" "k6 open loop $rate/s" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
d = m["http_req_duration"]; reqs = m["http_reqs"]
ok = m.get("http_req_failed", {})
print(f'{sys.argv[2]:<28} {reqs["rate"]:7.1f} req/s  p50 {d["p(50)"]:6.1f}  p90 {d["p(90)"]:6.1f}  p99 {d["p(99)"]:6.1f} ms  failed {100*ok.get("value", 0):.1f}%')
PY
	GOMAXPROCS=1 taskset -c 0 "$bin" loadtest --target http://127.0.0.1:8080 --mix "$here/single-mix.yaml" \
		--rate $rate --duration 15s --json "$out/ours-$rate.json" >/dev/null 2>&1 || true
	python3 - "$out/ours-$rate.json" "olapgate open loop $rate/s" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["run"]; s = r["serviceMs"]
failed = 1 - r["ok"] / max(r["completed"], 1)
print(f'{sys.argv[2]:<28} {r["achievedRps"]:7.1f} req/s  p50 {s["p50"]:6.1f}  p90 {s["p90"]:6.1f}  p99 {s["p99"]:6.1f} ms  failed {100*failed:.1f}%  (valid {r["valid"]})')
PY
done
q='{"query":{"dataset":"synth","timeRange":{"start":"now-1h"},"metrics":[{"agg":"COUNT"}],"options":{"noCache":true,"timeoutMs":1000}}}'
taskset -c 0 "$gobin/ghz" --insecure --cpus 1 -c 2 -z 15s --call olapgate.v1.QueryService/Aggregate -d "$q" \
	--metadata '{"x-olapgate-tenant":"acme"}' 127.0.0.1:9090 --format json -o "$out/ghz.json" >/dev/null 2>&1 || true
python3 - "$out/ghz.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); lat = {d["percentage"]: d["latency"] / 1e6 for d in r["latencyDistribution"]}
print(f'{"ghz closed loop 2 workers":<28} {r["rps"]:7.1f} req/s  p50 {lat[50]:6.1f}  p90 {lat[90]:6.1f}  p99 {lat[99]:6.1f} ms')
PY
GOMAXPROCS=1 taskset -c 0 "$bin" loadtest --target grpc://127.0.0.1:9090 --mix "$here/single-mix.yaml" \
	--workers 2 --duration 15s --json "$out/ours-closed.json" >/dev/null 2>&1 || true
python3 - "$out/ours-closed.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["run"]; s = r["serviceMs"]
print(f'{"olapgate closed loop 2":<28} {r["achievedRps"]:7.1f} req/s  p50 {s["p50"]:6.1f}  p90 {s["p90"]:6.1f}  p99 {s["p99"]:6.1f} ms')
PY
if command -v wrk >/dev/null; then
	taskset -c 0 wrk -t1 -c2 -d15s --latency -s "$here/wrk-synthetic.lua" http://127.0.0.1:8080 2>/dev/null |
		awk '/^WRK/ {printf "%-28s %7.1f req/s  p50 %6.1f  p90 %6.1f  p99 %6.1f ms  errors %d\n", "wrk closed loop 2 conns", $2, $3, $4, $5, $6}'
	GOMAXPROCS=1 taskset -c 0 "$bin" loadtest --target http://127.0.0.1:8080 --mix "$here/single-mix.yaml" \
		--workers 2 --duration 15s --json "$out/ours-closed-http.json" >/dev/null 2>&1 || true
	python3 - "$out/ours-closed-http.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["run"]; s = r["serviceMs"]
print(f'{"olapgate closed loop 2 HTTP":<28} {r["achievedRps"]:7.1f} req/s  p50 {s["p50"]:6.1f}  p90 {s["p90"]:6.1f}  p99 {s["p99"]:6.1f} ms')
PY
fi
