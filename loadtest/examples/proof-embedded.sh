#!/usr/bin/env bash
# The realism check of BENCHMARKS.md: admission control on the embedded store with ROWS sample
# events (default 5M) and an uncached query mix. Knee with the limiter on, then 2x and 5x the
# knee with it on and off. Server pinned to core 1 (DuckDB threads=1), generator to core 0.
#   loadtest/examples/proof-embedded.sh [outdir] [rows]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp/olapgate-proof-embedded}
rows=${2:-5000000}
mkdir -p "$out"
go build -o "$out/olapgate" "$here/../../cmd/olapgate"
bin="$out/olapgate"
serve() {
	(cd "$out" && GOMAXPROCS=1 exec taskset -c 1 "$bin" serve --config "$here/$1" >"$out/serve.log" 2>&1) &
	pid=$!
	for _ in $(seq 300); do curl -sf localhost:8080/readyz >/dev/null && return; sleep 0.1; done
	echo "server did not start" >&2; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; }
rss() { awk '/VmHWM/ {print $2/1024 " MiB"}' "/proc/$pid/status"; }
load() {
	local name=$1 rate=$2; shift 2
	GOMAXPROCS=1 taskset -c 0 "$bin" loadtest --target grpc://127.0.0.1:9090 --mix "$here/embedded-mix.yaml" \
		--rate "$rate" --duration 20s --warmup 3s --timeout 6s --json "$out/$name.json" "$@" >/dev/null 2>&1 || true
	python3 - "$out/$name.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["run"]
st = r["statuses"]; rej = sum(v for k, v in st.items() if k != "OK")
print(f'{sys.argv[2]:<10} offered {r["offeredRps"]:6.1f}/s goodput {r["goodputRps"]:6.1f}/s '
      f'admitted p50 {r["okLatencyMs"]["p50"]:7.1f} p99 {r["okLatencyMs"]["p99"]:7.1f} ms refused {100*rej/max(r["completed"],1):5.1f}% valid {r["valid"]} {st}')
PY
}
rm -rf "$out/data-embedded"
serve embedded.yaml
t0=$(date +%s)
"$bin" ingest --dataset pageviews --sample "$rows" >/dev/null 2>&1
echo "loaded $rows rows in $(( $(date +%s) - t0 )) s"
GOMAXPROCS=1 taskset -c 0 "$bin" loadtest --target grpc://127.0.0.1:9090 --mix "$here/embedded-mix.yaml" --warmup 3s --timeout 6s \
	--knee --slo 'p99<2s' --start 1 --step 1 --max 30 --step-duration 6s --json "$out/knee.json" >/dev/null 2>&1 || true
knee=$(python3 -c "import json; print(json.load(open('$out/knee.json'))['knee']['kneeRps'])")
python3 -c "import json; k=json.load(open('$out/knee.json'))['knee']; print('knee (limiter on):', k['kneeRps'], 'rps;', [(s['offeredRps'], round(s['goodputRps'],1), round(s['p99Ms']), s['pass']) for s in k['steps']])"
half=$(python3 -c "print(max(1, $knee/2))"); two=$(python3 -c "print($knee*2)"); five=$(python3 -c "print($knee*5)")
load on-half "$half"; load on-2x "$two"; load on-5x "$five"
echo "peak RSS (limiter on): $(rss)"
stop
serve embedded-nolimit.yaml
load off-2x "$two"; load off-5x "$five"
echo "peak RSS (limiter off): $(rss)"
stop
