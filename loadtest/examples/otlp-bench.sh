#!/usr/bin/env bash
# otlp-bench.sh: olapgate's OTLP receiver against the OpenTelemetry Collector itself (issue #5).
#
# telemetrygen (OpenTelemetry's load generator) sends traces, then logs, over OTLP/gRPC on
# loopback, first to `olapgate serve` (storing into the embedded store), then to a reference
# collector (otlpreceiver -> batchprocessor -> nopexporter). Each server is pinned to one core
# (taskset, GOMAXPROCS=1, olapgate's DuckDB with one thread), telemetrygen to another. For each
# run the script reads the server's CPU time (utime+stime of every thread, /proc/PID/stat)
# before and after, and counts what the server took in from its own counters:
#   olapgate:  olapgate_collector_items_total{outcome="stored"} (committed rows), checked
#              against COUNT(*) of otel_traces / otel_logs through the query API at the end;
#   reference: otelcol_receiver_accepted_spans / _log_records (its internal metrics).
# It prints items per CPU-second for both, the ratio (issue target for traces: >= 0.8), and
# olapgate's p99 export latency from olapgate_collector_export_duration_seconds.
#
# Target olapgate-ch is olapgate with `collector: {backend: clickhouse}` writing to chsink
# (loadtest/cmd/chsink: ClickHouse's native protocol, every block decoded, rows counted, nothing
# stored), pinned beside telemetrygen on CLIENT_CPU: olapgate's process then only receives,
# converts and encodes, as it does in front of a real ClickHouse server, whose storing is not
# on olapgate's CPU. Counted is what the sink received: chsink_rows_total{table=
# "default.otel_traces"} / otel_logs, checked against olapgate's stored counter at the end;
# the script also prints the sink's own CPU seconds.
#
# Target refcol-ch is the reference that stores too: the OpenTelemetry Collector with the
# contrib ClickHouse exporter (otlpreceiver -> batchprocessor with its defaults ->
# clickhouseexporter: endpoint tcp://127.0.0.1:CH_NATIVE, database default, create_schema,
# compress lz4, ttl 0, every other setting its default, e.g. its sending queue and
# async_insert=1) writing into the same chsink, which is on CLIENT_CPU beside telemetrygen as
# for olapgate-ch; the collector (REFCH) on SERVER_CPU with GOMAXPROCS=1. Counted is what the
# sink received (chsink_rows_total, as for olapgate-ch) per CPU-second of the collector's
# process; rows per insert are the sink's (chsink_inserts_total); there is no p99 for it. At
# the end of each of its rounds the script prints what its receiver accepted and its exporter
# sent against the sink's rows, and the warnings and errors it logged.
# Ratios: olapgate and olapgate-ch over refcol and over refcol-ch, and refcol-ch over refcol.
#
# Tools are built outside the repo (nothing here adds modules to olapgate's go.mod):
#   GOBIN=/tmp/otelbench/bin go install \
#     github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v0.161.0
#   reference collector: a main.go over go.opentelemetry.io/collector/otelcol v0.141.0 with
#   otlpreceiver, batchprocessor, nopexporter (BENCHMARKS.md shows it), built with
#   GONOSUMDB=go.opentelemetry.io/collector,github.com/open-telemetry.
#   refch: the same main.go and go.mod (collector core modules v0.141.0 / v1.47.0) with
#   clickhouseexporter.NewFactory() added to the exporters, in its own directory:
#     GONOSUMDB=go.opentelemetry.io/collector,github.com/open-telemetry go get \
#       github.com/open-telemetry/opentelemetry-collector-contrib/exporter/clickhouseexporter@v0.141.0
#     go mod tidy && go build -o /tmp/otelbench/bin/refch .
#   (the exporter v0.141.0 brings clickhouse-go/v2 v2.40.3 and ch-go v0.68.0).
#
# Usage: REFCOL=/tmp/otelbench/bin/refcol TELEMETRYGEN=/tmp/otelbench/bin/telemetrygen \
#          loadtest/examples/otlp-bench.sh
#        REFCH=/tmp/otelbench/bin/refch REFCOL=... TELEMETRYGEN=... \
#          TARGETS="olapgate-ch refcol-ch refcol" loadtest/examples/otlp-bench.sh
# Environment (defaults): OLAPGATE (built from this repo into the work dir), DURATION (20s per
# run), WORKERS (2), CLIENTS (1: telemetrygen processes at once, each with WORKERS workers),
# RATE (0: unthrottled, else items/s per worker), BATCH (512 items per
# export), CHILD_SPANS (1: two spans per trace), SIGNALS ("traces logs"), TARGETS
# ("olapgate refcol"; add olapgate-ch for the ClickHouse backend, refcol-ch for the collector
# with the ClickHouse exporter), SERVER_CPU (1), CLIENT_CPU (0), ROUNDS (1), OG_CONFIG (an
# olapgate config file, e.g. one with `collector: {flush: interval}`), CHSINK (the sink binary,
# built from this repo into the work dir), OG_CH_CONFIG (olapgate's config for olapgate-ch;
# default: backends.clickhouse at the sink, collector backend clickhouse, every other setting
# its default), REFCOL, REFCH (the collector binaries), and the loopback ports OG_HTTP (18080),
# OG_GRPC (19090), OG_OTLP (24317), RC_OTLP (14317), RC_METRICS (18888), RCH_OTLP (14417),
# RCH_METRICS (18889), CH_NATIVE (19000), CH_METRICS (19363).
set -euo pipefail

DURATION=${DURATION:-20s}
WORKERS=${WORKERS:-2}
CLIENTS=${CLIENTS:-1}
RATE=${RATE:-0}
BATCH=${BATCH:-512}
CHILD_SPANS=${CHILD_SPANS:-1}
SIGNALS=${SIGNALS:-traces logs}
TARGETS=${TARGETS:-olapgate refcol}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
ROUNDS=${ROUNDS:-1}
OG_HTTP=${OG_HTTP:-18080}
OG_GRPC=${OG_GRPC:-19090}
OG_OTLP=${OG_OTLP:-24317}
RC_OTLP=${RC_OTLP:-14317}
RC_METRICS=${RC_METRICS:-18888}
RCH_OTLP=${RCH_OTLP:-14417}
RCH_METRICS=${RCH_METRICS:-18889}
CH_NATIVE=${CH_NATIVE:-19000}
CH_METRICS=${CH_METRICS:-19363}
TELEMETRYGEN=${TELEMETRYGEN:-telemetrygen}
REFCOL=${REFCOL:-}
REFCH=${REFCH:-}

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/otlp-bench.XXXXXX)
server_pid=
sink_pid=
cleanup() {
	for pid in $server_pid $sink_pid; do
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT

if [[ -z ${OLAPGATE:-} ]]; then
	OLAPGATE=$work/olapgate
	(cd "$repo" && go build -o "$OLAPGATE" ./cmd/olapgate)
fi
if [[ ( " $TARGETS " == *" olapgate-ch "* || " $TARGETS " == *" refcol-ch "* ) && -z ${CHSINK:-} ]]; then
	CHSINK=$work/chsink
	(cd "$repo" && go build -o "$CHSINK" ./loadtest/cmd/chsink)
fi
if [[ " $TARGETS " == *" refcol "* && ! -x $REFCOL ]]; then
	echo "otlp-bench: set REFCOL to the reference collector binary (see the header)" >&2
	exit 2
fi
if [[ " $TARGETS " == *" refcol-ch "* && ! -x $REFCH ]]; then
	echo "otlp-bench: set REFCH to the collector with the ClickHouse exporter (see the header)" >&2
	exit 2
fi
command -v "$TELEMETRYGEN" >/dev/null || { echo "otlp-bench: telemetrygen not found (TELEMETRYGEN)" >&2; exit 2; }

tck=$(getconf CLK_TCK)

# cpu_ticks PID: utime+stime of the whole process (all threads), in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# metric URL NAME LABELS: the sum of the samples of NAME whose labels contain every LABELS
# fragment (comma-separated), 0 when there is none.
metric() {
	curl -fsS "$1" | awk -v name="$2" -v want="$3" '
		BEGIN { n = split(want, w, ",") }
		$1 ~ ("^" name "({|$)") {
			ok = 1
			for (i = 1; i <= n; i++) if (w[i] != "" && index($1, w[i]) == 0) ok = 0
			if (ok) s += $NF
		}
		END { printf "%.0f\n", s }'
}

# buckets URL SIGNAL: olapgate's cumulative export-duration buckets for SIGNAL, "le count" lines.
buckets() {
	curl -fsS "$1" | awk -v sig="signal=\"$2\"" '
		/^olapgate_collector_export_duration_seconds_bucket/ && index($0, sig) {
			match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); print le, $NF
		}'
}

# p99 BEFORE AFTER: the 0.99 quantile, in ms, of the exports between two bucket snapshots,
# interpolated linearly within the bucket as Prometheus' histogram_quantile does.
p99() {
	join <(sort "$1") <(sort "$2") | awk '
		{ le[NR] = ($1 == "+Inf") ? 1e300 : $1; c[NR] = $3 - $2 }
		END {
			# sort by le (join sorted them as text)
			for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) if (le[j] < le[i]) {
				t = le[i]; le[i] = le[j]; le[j] = t; t = c[i]; c[i] = c[j]; c[j] = t }
			total = c[NR]; if (total == 0) { print "-"; exit }
			rank = 0.99 * total; prev = 0; prevc = 0
			for (i = 1; i <= NR; i++) if (c[i] >= rank) {
				if (le[i] > 1e299) { printf ">%.0f\n", prev * 1000; exit }
				printf "%.1f\n", (prev + (le[i] - prev) * (rank - prevc) / (c[i] - prevc)) * 1000; exit
			} else { prev = le[i]; prevc = c[i] }
		}'
}

wait_http() { # URL: wait up to 30 s for a 200
	for _ in $(seq 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "otlp-bench: $1 did not answer" >&2
	return 1
}

# settle URL NAME LABELS: wait until the counter stops moving (the last group is committed),
# at most 10 s; prints its value.
settle() {
	local prev=-1 cur
	for _ in $(seq 20); do
		cur=$(metric "$1" "$2" "$3")
		[[ $cur == "$prev" ]] && break
		prev=$cur
		sleep 0.5
	done
	echo "$cur"
}

start_olapgate() { # [CONFIG]
	mkdir -p "$work/data"
	rm -rf "$work/data"/*
	local cfg=()
	[[ -n ${OG_CONFIG:-} ]] && cfg=(--config "$OG_CONFIG")
	[[ -n ${1:-} ]] && cfg=(--config "$1")
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$OLAPGATE" serve "${cfg[@]}" --data-dir "$work/data" --threads 1 \
		--http-addr "127.0.0.1:$OG_HTTP" --grpc-addr "127.0.0.1:$OG_GRPC" \
		--otlp-grpc-addr "127.0.0.1:$OG_OTLP" --otlp-http-addr off --log-level warn \
		>"$work/olapgate.log" 2>&1 &
	server_pid=$!
	wait_http "http://127.0.0.1:$OG_HTTP/readyz"
}

# start_sink: chsink on the client's core (storing is ClickHouse's work, not the server's).
start_sink() {
	GOMAXPROCS=1 taskset -c "$CLIENT_CPU" "$CHSINK" -addr "127.0.0.1:$CH_NATIVE" \
		-http-addr "127.0.0.1:$CH_METRICS" >"$work/chsink.log" 2>&1 &
	sink_pid=$!
	wait_http "http://127.0.0.1:$CH_METRICS/metrics"
}

# start_olapgate_ch: the sink, then olapgate with the ClickHouse backend on the server's core.
start_olapgate_ch() {
	start_sink
	local cfg=${OG_CH_CONFIG:-$work/olapgate-ch.yaml}
	if [[ -z ${OG_CH_CONFIG:-} ]]; then
		printf 'backends:\n  clickhouse: {addr: "127.0.0.1:%s"}\ncollector:\n  backend: clickhouse\n' "$CH_NATIVE" >"$cfg"
	fi
	start_olapgate "$cfg"
}

# collector_yaml FILE OTLP_PORT METRICS_PORT EXPORTER YAML: a reference collector's config:
# the otlp receiver (gRPC) -> batch with its defaults -> EXPORTER (YAML: its settings as a flow
# mapping) for traces and logs, its own metrics on METRICS_PORT, logs at warn.
collector_yaml() {
	cat >"$1" <<-EOF
		receivers:
		  otlp:
		    protocols:
		      grpc:
		        endpoint: 127.0.0.1:$2
		processors:
		  batch: {}
		exporters:
		  $4: $5
		service:
		  telemetry:
		    logs: {level: warn}
		    metrics:
		      level: normal
		      readers:
		        - pull: {exporter: {prometheus: {host: 127.0.0.1, port: $3}}}
		  pipelines:
		    traces: {receivers: [otlp], processors: [batch], exporters: [$4]}
		    logs: {receivers: [otlp], processors: [batch], exporters: [$4]}
	EOF
}

start_refcol() {
	collector_yaml "$work/refcol.yaml" "$RC_OTLP" "$RC_METRICS" nop '{}'
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$REFCOL" --config "$work/refcol.yaml" >"$work/refcol.log" 2>&1 &
	server_pid=$!
	wait_http "http://127.0.0.1:$RC_METRICS/metrics"
}

# start_refcol_ch: the sink, then the collector with the ClickHouse exporter on the server's
# core; ready once its exporter has created the tables in the sink (it starts its receiver
# after its exporters).
start_refcol_ch() {
	start_sink
	collector_yaml "$work/refch.yaml" "$RCH_OTLP" "$RCH_METRICS" clickhouse \
		"{endpoint: \"tcp://127.0.0.1:$CH_NATIVE\", database: default, create_schema: true, compress: lz4, ttl: 0}"
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$REFCH" --config "$work/refch.yaml" >"$work/refch.log" 2>&1 &
	server_pid=$!
	wait_http "http://127.0.0.1:$RCH_METRICS/metrics"
	for _ in $(seq 300); do
		curl -fsS "http://127.0.0.1:$CH_METRICS/metrics" | grep -q 'chsink_rows_total{table="default.otel_logs"}' && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "otlp-bench: refcol-ch did not create its tables in the sink:" >&2
	tail -5 "$work/refch.log" >&2
	return 1
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	if [[ -n $sink_pid ]]; then
		kill "$sink_pid" 2>/dev/null || true
		wait "$sink_pid" 2>/dev/null || true
		sink_pid=
	fi
}

# run TARGET SIGNAL ROUND: one bounded telemetrygen run; prints a result line.
run() {
	local target=$1 signal=$2 round=$3 endpoint url name labels og_url=
	case $target in
	olapgate)
		endpoint=127.0.0.1:$OG_OTLP url=http://127.0.0.1:$OG_HTTP/metrics og_url=$url
		name=olapgate_collector_items_total labels="signal=\"$signal\",outcome=\"stored\""
		;;
	olapgate-ch)
		endpoint=127.0.0.1:$OG_OTLP url=http://127.0.0.1:$CH_METRICS/metrics og_url=http://127.0.0.1:$OG_HTTP/metrics
		name=chsink_rows_total labels="table=\"default.otel_$signal\""
		;;
	refcol-ch)
		endpoint=127.0.0.1:$RCH_OTLP url=http://127.0.0.1:$CH_METRICS/metrics
		name=chsink_rows_total labels="table=\"default.otel_$signal\""
		;;
	*)
		endpoint=127.0.0.1:$RC_OTLP url=http://127.0.0.1:$RC_METRICS/metrics
		labels=
		if [[ $signal == traces ]]; then name=otelcol_receiver_accepted_spans_total; else name=otelcol_receiver_accepted_log_records_total; fi
		;;
	esac
	local n0 t0 n1 t1 b0=$work/b0 b1=$work/b1 extra=()
	[[ $signal == traces ]] && extra=(--child-spans "$CHILD_SPANS")
	local w0=0 w1=0 s0=0 s1=0
	n0=$(metric "$url" "$name" "$labels")
	if [[ -n $og_url ]]; then
		buckets "$og_url" "$signal" >"$b0"
		w0=$(metric "$og_url" olapgate_collector_writes_total "")
	fi
	# refcol-ch's inserts are the sink's.
	[[ $target == refcol-ch ]] && w0=$(metric "$url" chsink_inserts_total "$labels")
	[[ -n $sink_pid ]] && s0=$(cpu_ticks "$sink_pid")
	t0=$(cpu_ticks "$server_pid")
	local start=$EPOCHREALTIME
	# CLIENTS generators at once: each is one SDK (one export in flight for traces), so several
	# are several senders whose exports the server may group.
	local gens=() c
	for c in $(seq "$CLIENTS"); do
		taskset -c "$CLIENT_CPU" "$TELEMETRYGEN" "$signal" --otlp-endpoint "$endpoint" --otlp-insecure \
			--duration "$DURATION" --rate "$RATE" --workers "$WORKERS" --batch-size "$BATCH" "${extra[@]}" \
			>"$work/telemetrygen-$c.log" 2>&1 &
		gens+=($!)
	done
	for c in "${!gens[@]}"; do
		wait "${gens[$c]}" || { echo "otlp-bench: telemetrygen $((c + 1)) failed:" >&2; tail -5 "$work/telemetrygen-$((c + 1)).log" >&2; }
	done
	n1=$(settle "$url" "$name" "$labels")
	t1=$(cpu_ticks "$server_pid")
	[[ -n $sink_pid ]] && s1=$(cpu_ticks "$sink_pid")
	local wall
	wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	local p=-
	if [[ -n $og_url ]]; then
		buckets "$og_url" "$signal" >"$b1"
		p=$(p99 "$b0" "$b1")
		w1=$(metric "$og_url" olapgate_collector_writes_total "")
	fi
	[[ $target == refcol-ch ]] && w1=$(metric "$url" chsink_inserts_total "$labels")
	awk -v tg="$target" -v sig="$signal" -v r="$round" -v n=$((n1 - n0)) -v cpu=$((t1 - t0)) -v tck="$tck" -v wall="$wall" -v p="$p" \
		-v load="$(cut -d' ' -f1 /proc/loadavg)" -v writes=$((w1 - w0)) -v sink=$((s1 - s0)) 'BEGIN {
			s = cpu / tck
			printf "%-11s %-6s round=%s items=%d cpu_s=%.2f wall_s=%s items_per_cpu_s=%.0f items_per_s=%.0f p99_ms=%s rows_per_write=%s load1=%s%s\n",
				tg, sig, r, n, s, wall, (s > 0 ? n / s : 0), n / wall, p, (writes > 0 ? sprintf("%.0f", n / writes) : "-"), load,
				(sink > 0 ? sprintf(" sink_cpu_s=%.2f", sink / tck) : "") }'
}

results=$work/results
: >"$results"
echo "otlp-bench: $(date -u +%FT%TZ) duration=$DURATION clients=$CLIENTS workers=$WORKERS rate=$RATE batch=$BATCH server_cpu=$SERVER_CPU client_cpu=$CLIENT_CPU load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
	for target in $TARGETS; do
		case $target in
		olapgate) start_olapgate ;;
		olapgate-ch) start_olapgate_ch ;;
		refcol-ch) start_refcol_ch ;;
		*) start_refcol ;;
		esac
		for signal in $SIGNALS; do
			run "$target" "$signal" "$round" | tee -a "$results"
		done
		if [[ $target == olapgate ]]; then
			# What is in the tables, through the API: every stored row, not only this run's.
			for t in otel_traces otel_logs; do
				[[ " $SIGNALS " == *" ${t#otel_} "* ]] || continue
				echo "olapgate COUNT(*) $t: $(curl -fsS "http://127.0.0.1:$OG_HTTP/v1/query" \
					-d '{"dataset":"'"$t"'","timeRange":{"start":"now-24h","end":"now+1h"},"metrics":[{"agg":"COUNT","as":"n"}]}' |
					grep -o '"rows":\[\[[0-9]*' | grep -o '[0-9]*$')"
			done
		fi
		if [[ $target == olapgate-ch ]]; then
			# What olapgate acknowledged as stored against what the sink received, whole run.
			for sig in $SIGNALS; do
				echo "olapgate-ch $sig: olapgate stored $(metric "http://127.0.0.1:$OG_HTTP/metrics" olapgate_collector_items_total "signal=\"$sig\",outcome=\"stored\""), rows in the sink $(metric "http://127.0.0.1:$CH_METRICS/metrics" chsink_rows_total "table=\"default.otel_$sig\"")"
			done
		fi
		if [[ $target == refcol-ch ]]; then
			# What the collector accepted and its exporter sent against what the sink received,
			# whole run, and what it logged at warn or error.
			for sig in $SIGNALS; do
				if [[ $sig == traces ]]; then unit=spans; else unit=log_records; fi
				echo "refcol-ch $sig: accepted $(metric "http://127.0.0.1:$RCH_METRICS/metrics" otelcol_receiver_accepted_${unit}_total ""), exported $(metric "http://127.0.0.1:$RCH_METRICS/metrics" otelcol_exporter_sent_${unit}_total ""), failed $(metric "http://127.0.0.1:$RCH_METRICS/metrics" otelcol_exporter_send_failed_${unit}_total ""), rows in the sink $(metric "http://127.0.0.1:$CH_METRICS/metrics" chsink_rows_total "table=\"default.otel_$sig\"")"
			done
			echo "refcol-ch: $(grep -cwE 'warn|error' "$work/refch.log" || true) warn/error log lines$(grep -m1 -wE 'warn|error' "$work/refch.log" | cut -c1-300 | sed 's/^/; first: /')"
		fi
		stop_server
	done
done

# Ratio per round and signal: each olapgate target's items per CPU-second over each reference's
# (refcol, refcol-ch), and refcol-ch's over refcol's.
awk '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	   key = v["round"] " " $2; rate[$1, key] = v["items_per_cpu_s"]; keys[key] = 1; targets[$1] = 1 }
	END { for (k in keys) for (t in targets) for (r in targets) {
		if ((r != "refcol" && r != "refcol-ch") || t == r || t == "refcol" || !((t, k) in rate) || !((r, k) in rate) || rate[r, k] <= 0) continue
		printf "ratio round/signal %s: %s/%s = %.2f%s\n", k, t, r, rate[t, k] / rate[r, k], (t ~ /^olapgate/ ? " (target >= 0.80)" : "") } }' "$results" | sort
