package cors

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{AllowedOrigins: []string{"*", "https://dash.example.com", "http://*.example.com:3000"}}, ""},
		{Config{AllowedOrigins: []string{"https://*.*.example.com"}}, "at most one * wildcard"},
		{Config{AllowedOrigins: []string{"dash.example.com"}}, "scheme://host"},
		{Config{AllowedOrigins: []string{"https://dash.example.com/"}}, "no path"},
		{Config{MaxAge: -time.Second}, "must not be negative"},
	} {
		err := tc.cfg.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func serve(h http.Handler, method, origin string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/v1/traces", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandler(t *testing.T) {
	var reached int
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached++
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	h := Handler(Config{AllowedOrigins: []string{"https://dash.example.com", "https://*.apps.example.com"}, AllowedHeaders: []string{"X-Custom"}, MaxAge: time.Minute}, next)

	// A simple request from an allowed origin reaches the handler and is labelled.
	w := serve(h, "POST", "https://dash.example.com", nil)
	if reached != 1 || w.Code != 429 || w.Header().Get("Access-Control-Allow-Origin") != "https://dash.example.com" ||
		!strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Fatalf("allowed origin: reached %d, %d %v", reached, w.Code, w.Header())
	}
	// Wildcard origin.
	if w := serve(h, "POST", "https://grafana.apps.example.com", nil); w.Header().Get("Access-Control-Allow-Origin") != "https://grafana.apps.example.com" {
		t.Fatalf("wildcard origin: %v", w.Header())
	}
	// The wildcard needs at least one character: the bare suffix is another origin.
	if w := serve(h, "POST", "https://.apps.example.com", nil); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("empty wildcard matched: %v", w.Header())
	}
	// Preflight: answered here, headers filtered to the allowed ones.
	reached = 0
	w = serve(h, "OPTIONS", "https://dash.example.com", map[string]string{
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type, x-custom, x-evil",
	})
	if reached != 0 || w.Code != 204 || w.Header().Get("Access-Control-Allow-Headers") != "content-type, x-custom" ||
		w.Header().Get("Access-Control-Max-Age") != "60" || !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: reached %d, %d %v", reached, w.Code, w.Header())
	}
	// Another origin: no CORS headers (the browser refuses the answer), preflight not granted.
	w = serve(h, "OPTIONS", "https://evil.example.org", map[string]string{"Access-Control-Request-Method": "POST"})
	if w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("foreign preflight granted: %v", w.Header())
	}
	if w := serve(h, "POST", "https://evil.example.org", nil); w.Header().Get("Access-Control-Allow-Origin") != "" || reached != 1 {
		t.Fatalf("foreign origin: reached %d, %v", reached, w.Header())
	}
	// No Origin (curl, exporters): untouched.
	if w := serve(h, "POST", "", nil); w.Header().Get("Vary") != "" || w.Code != 429 {
		t.Fatalf("no origin: %v", w.Header())
	}
	// "*" answers "*".
	star := Handler(Config{AllowedOrigins: []string{"*"}}, next)
	if w := serve(star, "POST", "https://anything.test", nil); w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("star: %v", w.Header())
	}
	// Disabled: next itself.
	if w := serve(Handler(Config{}, next), "POST", "https://dash.example.com", nil); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disabled: %v", w.Header())
	}
}
