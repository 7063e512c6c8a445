// Package cors lets browser pages on other origins call olapgate's HTTP APIs (dashboards, the OpenTelemetry JS SDK's OTLP/HTTP exporter).
package cors

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Config is the cross-origin policy, shaped like the OpenTelemetry Collector's confighttp
// CORS settings (allowed_origins, allowed_headers, max_age). The zero value allows no other
// origin: browsers then refuse cross-origin calls, as without CORS support.
type Config struct {
	// AllowedOrigins are origins allowed to call ("https://dash.example.com"), with at most
	// one "*" wildcard each ("https://*.example.com"); "*" alone allows every origin (and
	// then credentials are not allowed, per the Fetch standard).
	AllowedOrigins []string `yaml:"allowedOrigins"`
	// AllowedHeaders are request headers allowed besides the ones olapgate reads
	// (Content-Type, Content-Encoding, Authorization, X-Olapgate-Tenant, the W3C trace
	// context headers); "*" allows any.
	AllowedHeaders []string `yaml:"allowedHeaders"`
	// MaxAge is how long a browser may cache a preflight answer. Default 10m.
	MaxAge time.Duration `yaml:"maxAge"`
}

// defaultHeaders are the request headers olapgate's handlers read.
var defaultHeaders = []string{"Content-Type", "Content-Encoding", "Authorization", "X-Olapgate-Tenant", "Traceparent", "Tracestate"}

// Validate checks the origin patterns.
func (c *Config) Validate() error {
	for i, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		if strings.Count(o, "*") > 1 {
			return fmt.Errorf("cors.allowedOrigins[%d] %q: at most one * wildcard", i, o)
		}
		if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			return fmt.Errorf("cors.allowedOrigins[%d] %q: an origin is scheme://host[:port], e.g. https://dash.example.com", i, o)
		}
		if _, host, _ := strings.Cut(o, "://"); host == "" || strings.Contains(host, "/") {
			return fmt.Errorf("cors.allowedOrigins[%d] %q: an origin has no path or trailing slash", i, o)
		}
	}
	if c.MaxAge < 0 {
		return fmt.Errorf("cors.maxAge %s: must not be negative", c.MaxAge)
	}
	return nil
}

// Enabled reports whether any origin is allowed.
func (c *Config) Enabled() bool { return len(c.AllowedOrigins) > 0 }

// Handler wraps next with the policy: requests from allowed origins get
// Access-Control-Allow-Origin (and the Retry-After header exposed, so a browser client can
// honour backpressure); preflight requests (OPTIONS with Access-Control-Request-Method) are
// answered here with 204. Requests from other origins pass through without CORS headers, so
// the browser refuses their answers; same-origin and non-browser clients are unaffected.
func Handler(c Config, next http.Handler) http.Handler {
	if !c.Enabled() {
		return next
	}
	maxAge := c.MaxAge
	if maxAge == 0 {
		maxAge = 10 * time.Minute
	}
	anyOrigin, anyHeader := false, false
	for _, o := range c.AllowedOrigins {
		anyOrigin = anyOrigin || o == "*"
	}
	allowed := map[string]bool{}
	for _, h := range append(append([]string{}, defaultHeaders...), c.AllowedHeaders...) {
		anyHeader = anyHeader || h == "*"
		allowed[strings.ToLower(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		hdr := w.Header()
		hdr.Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !anyOrigin && !originAllowed(c.AllowedOrigins, origin) {
			if preflight {
				// No CORS headers: the browser refuses the actual request.
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if anyOrigin {
			hdr.Set("Access-Control-Allow-Origin", "*")
		} else {
			hdr.Set("Access-Control-Allow-Origin", origin)
		}
		if !preflight {
			hdr.Set("Access-Control-Expose-Headers", "Retry-After, Grpc-Status, Grpc-Message")
			next.ServeHTTP(w, r)
			return
		}
		hdr.Add("Vary", "Access-Control-Request-Method")
		hdr.Add("Vary", "Access-Control-Request-Headers")
		hdr.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		var ok []string
		for _, h := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
			h = strings.TrimSpace(h)
			if h != "" && (anyHeader || allowed[strings.ToLower(h)]) {
				ok = append(ok, h)
			}
		}
		if len(ok) > 0 {
			hdr.Set("Access-Control-Allow-Headers", strings.Join(ok, ", "))
		}
		hdr.Set("Access-Control-Max-Age", strconv.Itoa(int(maxAge/time.Second)))
		w.WriteHeader(http.StatusNoContent)
	})
}

// originAllowed matches origin against the patterns, case-insensitively (origins are
// serialized lower-case by browsers; configuration may not be).
func originAllowed(patterns []string, origin string) bool {
	origin = strings.ToLower(origin)
	for _, p := range patterns {
		p = strings.ToLower(p)
		prefix, suffix, wild := strings.Cut(p, "*")
		if !wild {
			if p == origin {
				return true
			}
			continue
		}
		if len(origin) > len(prefix)+len(suffix) && strings.HasPrefix(origin, prefix) && strings.HasSuffix(origin, suffix) {
			return true
		}
	}
	return false
}
