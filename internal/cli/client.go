package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// apiClient talks to a running server's HTTP API: the embedded store is single-process, so
// the CLI never opens a data directory itself.
type apiClient struct {
	base   string
	tenant string
	http   *http.Client
}

func newClient(server, tenant string) *apiClient {
	if server == "" {
		server = os.Getenv("OLAPGATE_SERVER")
	}
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	return &apiClient{base: strings.TrimRight(server, "/"), tenant: tenant, http: &http.Client{Timeout: 5 * time.Minute}}
}

// apiError is a non-2xx answer, with the server's message.
type apiError struct {
	Status  int
	Message string
	Body    []byte
}

func (e *apiError) Error() string { return fmt.Sprintf("server answered %d: %s", e.Status, e.Message) }

func (c *apiClient) post(path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if c.tenant != "" {
		req.Header.Set("X-Olapgate-Tenant", c.tenant)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach olapgate at %s (is `olapgate serve` running?): %w", c.base, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(out))
		if json.Unmarshal(out, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return out, &apiError{Status: resp.StatusCode, Message: msg, Body: out}
	}
	return out, nil
}
