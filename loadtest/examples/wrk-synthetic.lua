-- wrk (closed loop, C, little CPU per request) against the synthetic dataset over HTTP: the
-- same request as k6-synthetic.js and single-mix.yaml, for the below-the-knee comparison.
--   wrk -t1 -c2 -d15s --latency -s loadtest/examples/wrk-synthetic.lua http://127.0.0.1:8080
wrk.method = "POST"
wrk.path = "/v1/query"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Olapgate-Tenant"] = "acme"
wrk.body = '{"dataset":"synth","timeRange":{"start":"now-1h"},"metrics":[{"agg":"COUNT"}],"options":{"noCache":true,"timeoutMs":1000}}'

done = function(summary, latency, requests)
  io.write(string.format("WRK %.1f %.3f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
