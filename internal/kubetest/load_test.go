package kubetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A kubeconfig as kubectl writes it (authority inline, client key pair in
// files named relative to the kubeconfig) reaches a server that demands
// that client certificate.
func TestLoadAuthenticatesWithClientCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tester"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"user": "` + r.TLS.PeerCertificates[0].Subject.CommonName + `"}`))
	}))
	clients := x509.NewCertPool()
	clients.AddCert(clientCert)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("client.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write("client.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	write("config", []byte(`apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: https://192.0.2.1:6443}
- name: test
  cluster:
    server: `+srv.URL+`/
    certificate-authority-data: `+base64.StdEncoding.EncodeToString(ca)+`
users:
- name: tester
  user: {client-certificate: client.crt, client-key: client.key}
contexts:
- name: other
  context: {cluster: other, user: tester}
- name: test
  context: {cluster: test, user: tester}
current-context: test
`))

	c, err := Load(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		User string `json:"user"`
	}
	if err := c.Get(context.Background(), "/whoami", &got); err != nil {
		t.Fatal(err)
	}
	if got.User != "tester" {
		t.Fatalf("server saw user %q, want tester", got.User)
	}
}
