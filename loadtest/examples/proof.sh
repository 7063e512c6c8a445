#!/usr/bin/env bash
# The admission-control proof of BENCHMARKS.md against the synthetic backend (knee 200/s):
# knee search with the limiter on, then 0.5x, 2x and 5x the knee with it on and off, and a
# two-tenant flood. Server and generator are pinned to separate cores. Loopback only, bounded.
#   loadtest/examples/proof.sh [outdir]
# PROOF_ONLY=tenants runs only the two-tenant part; OLAPGATE_BIN uses that binary instead of
# building one (to compare two builds side by side).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp/olapgate-proof}
mkdir -p "$out"
bin=${OLAPGATE_BIN:-$out/olapgate}
[ -n "${OLAPGATE_BIN:-}" ] || go build -o "$bin" "$here/../../cmd/olapgate"

serve() { # config → starts the server, sets $pid
	rm -rf "$out/data-synthetic"
	(cd "$out" && GOMAXPROCS=1 exec taskset -c 1 "$bin" serve --config "$here/$1" >"$out/serve.log" 2>&1) &
	pid=$!
	for _ in $(seq 100); do curl -sf localhost:8080/readyz >/dev/null && return; sleep 0.1; done
	echo "server did not start" >&2; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; }
rss() { awk '/VmHWM/ {print $2/1024 " MiB"}' "/proc/$pid/status"; }
load() { # name rate duration [extra args] → $out/name.json
	local name=$1 rate=$2 dur=$3; shift 3
	GOMAXPROCS=1 taskset -c 0 "$bin" loadtest --target grpc://127.0.0.1:9090 --mix "$here/synthetic-mix.yaml" \
		--rate "$rate" --duration "$dur" --warmup 2s --json "$out/$name.json" "$@" >/dev/null 2>&1 || true
	python3 - "$out/$name.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["run"]
st = r["statuses"]; rej = sum(v for k, v in st.items() if k != "OK")
print(f'{sys.argv[2]:<14} offered {r["offeredRps"]:7.1f}/s goodput {r["goodputRps"]:6.1f}/s '
      f'admitted p50 {r["okLatencyMs"]["p50"]:7.1f} p99 {r["okLatencyMs"]["p99"]:7.1f} ms '
      f'refused {100*rej/max(r["completed"],1):5.1f}% valid {r["valid"]} {st}')
PY
}

if [ "${PROOF_ONLY:-}" != tenants ]; then
serve synthetic.yaml
GOMAXPROCS=1 taskset -c 0 "$bin" loadtest --target grpc://127.0.0.1:9090 --mix "$here/synthetic-mix.yaml" --warmup 2s \
	--knee --slo 'p99<100ms' --start 50 --step 25 --max 400 --step-duration 4s --json "$out/knee.json" >/dev/null 2>&1 || true
python3 -c "import json; k=json.load(open('$out/knee.json'))['knee']; print('knee (limiter on):', k['kneeRps'], 'rps;', [(s['offeredRps'], round(s['goodputRps']), round(s['p99Ms'],1), s['pass']) for s in k['steps']])"
for x in 100:half 400:2x 1000:5x; do load "on-${x#*:}" "${x%%:*}" 15s; done
echo "peak RSS (limiter on): $(rss)"
stop

serve synthetic-nolimit.yaml
for x in 100:half 400:2x 1000:5x; do load "off-${x#*:}" "${x%%:*}" 15s; done
echo "peak RSS (limiter off): $(rss)"
stop
fi

# Two tenants: the quiet one alone, then beside a flood from the other.
serve synthetic.yaml
sed 's/tenant: globex/tenant: acme/' "$here/synthetic-mix.yaml" >"$out/quiet-mix.yaml"
quiet() { GOMAXPROCS=1 taskset -c 0 "$bin" loadtest --target grpc://127.0.0.1:9090 --mix "$out/quiet-mix.yaml" \
	--rate 40 --duration 15s --warmup 2s --json "$out/$1.json" >/dev/null 2>&1 || true; }
quiet quiet-solo
sed 's/tenant: acme/tenant: flood/' "$out/quiet-mix.yaml" >"$out/flood-mix.yaml"
GOMAXPROCS=1 taskset -c 0 "$bin" loadtest --target grpc://127.0.0.1:9090 --mix "$out/flood-mix.yaml" \
	--rate 800 --duration 19s --json "$out/flood.json" >/dev/null 2>&1 &
fpid=$!
quiet quiet-flooded
wait $fpid || true
python3 - "$out" <<'PY'
import json, sys
o = sys.argv[1]
s = json.load(open(f"{o}/quiet-solo.json"))["run"]; f = json.load(open(f"{o}/quiet-flooded.json"))["run"]
fl = json.load(open(f"{o}/flood.json"))["run"]
print(f'quiet tenant p99 alone {s["okLatencyMs"]["p99"]:.1f} ms, beside the flood {f["okLatencyMs"]["p99"]:.1f} ms '
      f'(ratio {f["okLatencyMs"]["p99"]/s["okLatencyMs"]["p99"]:.2f}); quiet goodput {f["goodputRps"]:.1f}/s of 40; '
      f'flood goodput {fl["goodputRps"]:.1f}/s of 800, statuses {fl["statuses"]}')
PY
stop
