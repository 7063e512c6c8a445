// k6 (open loop, constant-arrival-rate) against the synthetic dataset over HTTP: the
// independent check of olapgate loadtest in BENCHMARKS.md. RATE and DURATION from env.
//   k6 run -e RATE=100 -e DURATION=15s loadtest/examples/k6-synthetic.js
import http from 'k6/http';

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['p(50)', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    synth: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 100),
      timeUnit: '1s',
      duration: __ENV.DURATION || '15s',
      preAllocatedVUs: 200,
      maxVUs: 1000,
    },
  },
};

const body = JSON.stringify({
  dataset: 'synth', timeRange: { start: 'now-1h' }, metrics: [{ agg: 'COUNT' }],
  options: { noCache: true, timeoutMs: 1000 },
});
const params = { headers: { 'Content-Type': 'application/json', 'X-Olapgate-Tenant': 'acme' } };

export default function () {
  http.post('http://127.0.0.1:8080/v1/query', body, params);
}
