package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/olapgate/olapgate/internal/dataset"
)

func validConfig() Config {
	return Config{Name: "c", Brokers: []string{"127.0.0.1:9092"}, Topics: []Topic{{Topic: "t", Dataset: "events"}}}
}

func TestConfigValidate(t *testing.T) {
	known := func(n string) bool { return n == "events" || n == "views" }
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		err  string // "" valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"route", func(c *Config) {
			c.Topics = []Topic{{Topic: "t", Route: &FieldRoute{Field: "type", Datasets: map[string]string{"a": "events", "b": "views"}}}}
		}, ""},
		{"no name", func(c *Config) { c.Name = "" }, "name is required"},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers"},
		{"bad broker", func(c *Config) { c.Brokers = []string{"localhost"} }, "host:port"},
		{"no topics", func(c *Config) { c.Topics = nil }, "topics"},
		{"topic twice", func(c *Config) { c.Topics = append(c.Topics, c.Topics[0]) }, "twice"},
		{"dataset and route", func(c *Config) { c.Topics[0].Route = &FieldRoute{Field: "x", Default: "events"} }, "not both"},
		{"unknown dataset", func(c *Config) { c.Topics[0].Dataset = "nope" }, "not declared"},
		{"route to unknown", func(c *Config) {
			c.Topics = []Topic{{Topic: "t", Route: &FieldRoute{Field: "type", Datasets: map[string]string{"a": "nope"}}}}
		}, "not declared"},
		{"start offset", func(c *Config) { c.StartOffset = "middle" }, "startOffset"},
		{"negative batch", func(c *Config) { c.Batch.MaxWait = -1 }, "negative"},
		{"dead letter is a dataset", func(c *Config) { c.DeadLetter.Dataset = "views" }, "own"},
		{"dead letter name", func(c *Config) { c.DeadLetter.Dataset = "_x" }, "reserved"},
		{"tls off with files", func(c *Config) { c.TLS.CAFile = "ca.pem" }, "enabled is false"},
		{"cert without key", func(c *Config) { c.TLS = TLSConfig{Enabled: true, CertFile: "c.pem"} }, "go together"},
		{"plain", func(c *Config) { c.SASL = SASLConfig{Mechanism: "PLAIN", User: "u", Password: "p"} }, ""},
		{"scram-256", func(c *Config) { c.SASL = SASLConfig{Mechanism: "SCRAM-SHA-256", User: "u", Password: "p"} }, ""},
		{"scram-512 no password", func(c *Config) { c.SASL = SASLConfig{Mechanism: "SCRAM-SHA-512", User: "u"} }, "password"},
		{"scram with aws keys", func(c *Config) {
			c.SASL = SASLConfig{Mechanism: "SCRAM-SHA-512", User: "u", Password: "p", AccessKey: "a"}
		}, "AWS_MSK_IAM"},
		{"msk iam", func(c *Config) { c.TLS.Enabled = true; c.SASL = SASLConfig{Mechanism: "AWS_MSK_IAM"} }, ""},
		{"msk iam keys", func(c *Config) {
			c.TLS.Enabled = true
			c.SASL = SASLConfig{Mechanism: "AWS_MSK_IAM", AccessKey: "a", SecretKey: "s"}
		}, ""},
		{"msk iam without tls", func(c *Config) { c.SASL = SASLConfig{Mechanism: "AWS_MSK_IAM"} }, "TLS only"},
		{"msk iam half keys", func(c *Config) { c.TLS.Enabled = true; c.SASL = SASLConfig{Mechanism: "AWS_MSK_IAM", AccessKey: "a"} }, "go together"},
		{"msk iam user", func(c *Config) { c.TLS.Enabled = true; c.SASL = SASLConfig{Mechanism: "AWS_MSK_IAM", User: "u"} }, "not used"},
		{"unknown mechanism", func(c *Config) { c.SASL = SASLConfig{Mechanism: "GSSAPI", User: "u", Password: "p"} }, "GSSAPI"},
		{"credentials without mechanism", func(c *Config) { c.SASL = SASLConfig{User: "u", Password: "p"} }, "no mechanism"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mut(&c)
			err := c.Validate(known)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate = %v, want %q", err, tc.err)
			}
		})
	}
}

// clientFor builds (without connecting) the client a config gives, to read its options back.
func clientFor(t *testing.T, c Config, creds AWSCredentials) *kgo.Client {
	t.Helper()
	opts, err := c.clientOptions(creds)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func mechanismOf(t *testing.T, cl *kgo.Client) sasl.Mechanism {
	t.Helper()
	ms, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
	if len(ms) != 1 {
		t.Fatalf("SASL mechanisms = %v", ms)
	}
	return ms[0]
}

func TestClientOptions(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile, _ := writeCerts(t, dir)

	c := validConfig()
	if cl := clientFor(t, c, nil); cl.OptValue(kgo.SASL) != nil && len(cl.OptValue(kgo.SASL).([]sasl.Mechanism)) != 0 {
		t.Fatalf("SASL without a mechanism configured: %v", cl.OptValue(kgo.SASL))
	}
	if v := fmt.Sprint(clientFor(t, c.withDefaults(), nil).OptValue(kgo.ClientID)); !strings.Contains(v, DefaultClientID) {
		t.Errorf("client id option = %v", v)
	}

	for mech, want := range map[string]string{"PLAIN": "PLAIN", "SCRAM-SHA-256": "SCRAM-SHA-256", "SCRAM-SHA-512": "SCRAM-SHA-512"} {
		c := validConfig()
		c.SASL = SASLConfig{Mechanism: mech, User: "u", Password: "p"}
		if got := mechanismOf(t, clientFor(t, c, nil)).Name(); got != want {
			t.Errorf("%s: mechanism %s", mech, got)
		}
	}

	c = validConfig()
	c.TLS = TLSConfig{Enabled: true, CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: "kafka.internal"}
	c.SASL = SASLConfig{Mechanism: "AWS_MSK_IAM", UserAgent: "olapgate-test"}
	var asked bool
	cl := clientFor(t, c, func(context.Context) (string, string, string, error) {
		asked = true
		return "AKID", "SECRET", "TOKEN", nil
	})
	tc, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config)
	if tc == nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "kafka.internal" || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("TLS config = %+v", tc)
	}
	m := mechanismOf(t, cl)
	if m.Name() != "AWS_MSK_IAM" {
		t.Fatalf("mechanism %s", m.Name())
	}
	// The MSK IAM mechanism signs a request with the supplied credentials.
	if _, first, err := m.Authenticate(context.Background(), "b-1.msk.eu-west-1.amazonaws.com:9098"); err != nil || !asked ||
		!strings.Contains(string(first), "AKID") || !strings.Contains(string(first), "olapgate-test") {
		t.Fatalf("MSK IAM first message %s, err %v, credentials asked %v", first, err, asked)
	}
	// Environment credentials when neither keys nor a provider are given.
	c.SASL = SASLConfig{Mechanism: "AWS_MSK_IAM"}
	t.Setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET")
	if _, first, err := mechanismOf(t, clientFor(t, c, nil)).Authenticate(context.Background(), "b-1.msk.us-east-1.amazonaws.com:9098"); err != nil || !strings.Contains(string(first), "ENVKEY") {
		t.Fatalf("MSK IAM from the environment: %s, %v", first, err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	if _, _, err := mechanismOf(t, clientFor(t, c, nil)).Authenticate(context.Background(), "b-1.msk.us-east-1.amazonaws.com:9098"); err == nil {
		t.Fatal("MSK IAM without credentials authenticated")
	}

	// Unreadable TLS files fail at construction, naming what.
	c = validConfig()
	c.TLS = TLSConfig{Enabled: true, CAFile: filepath.Join(dir, "missing.pem")}
	if _, err := c.clientOptions(nil); err == nil || !strings.Contains(err.Error(), "caFile") {
		t.Fatalf("missing CA file: %v", err)
	}
	c.TLS = TLSConfig{Enabled: true, CAFile: keyFile}
	if _, err := c.clientOptions(nil); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("CA file without certificates: %v", err)
	}
}

// TLS and SCRAM-SHA-512 against a real (in-process) broker: a source authenticates and
// consumes; a wrong password does not get in.
func TestSASLSCRAMOverTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, _, _, serverCert := writeCerts(t, dir)
	c := newCluster(t, 1, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "olap", "s3cret"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}))
	secure := func(cfg *Config) {
		cfg.TLS = TLSConfig{Enabled: true, CAFile: caFile, ServerName: "localhost"}
		cfg.SASL = SASLConfig{Mechanism: MechanismSCRAMSHA512, User: "olap", Password: "s3cret"}
	}
	// Produce through the same options.
	pc := sourceConfig(c, secure)
	opts, err := pc.clientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	pcl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := 0; i < n; i++ {
		if err := pcl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(event(i))}).FirstErr(); err != nil {
			pcl.Close()
			t.Fatal(err)
		}
	}
	pcl.Close()

	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	src := startSource(t, sourceConfig(c, secure), st, []*dataset.Dataset{d}, nil)
	waitRows(t, st, `SELECT count(*) FROM events`, n, 30*time.Second)
	shutdown(t, src)
	exactlyOnce(t, st, "events", n)

	bad := sourceConfig(c, secure)
	bad.SASL.Password = "wrong"
	opts, err = bad.clientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err == nil {
		t.Fatal("a wrong SCRAM password was accepted")
	}
}

// writeCerts writes a CA, and a client certificate and key it signed, as PEM files, and
// returns a server certificate for localhost signed by the same CA.
func writeCerts(t *testing.T, dir string) (caFile, certFile, keyFile string, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "olapgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile = write("ca.pem", "CERTIFICATE", caDER)
	clientDER, clientKey := leaf(2, x509.ExtKeyUsageClientAuth)
	certFile = write("client.pem", "CERTIFICATE", clientDER)
	keyDER, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = write("client-key.pem", "EC PRIVATE KEY", keyDER)
	serverDER, serverKey := leaf(3, x509.ExtKeyUsageServerAuth)
	server = tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}
	return caFile, certFile, keyFile, server
}
