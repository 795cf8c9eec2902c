package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authd/authd/internal/config"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate for a server (on 127.0.0.1) or a client.
func (ca testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAdminListenerRequiresAClientCertificate: with ADMIN_TLS_CLIENT_CA
// the admin listener completes a TLS handshake only with a client
// certificate that CA signed.
func TestAdminListenerRequiresAClientCertificate(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, strangerCA := newCA(t, "server CA"), newCA(t, "client CA"), newCA(t, "another CA")
	srvCert, srvKey := serverCA.issue(t, "authd admin", x509.ExtKeyUsageServerAuth)
	cfg := config.Config{AdminAddr: "127.0.0.1:0", AdminTokensFile: filepath.Join(dir, "tokens"),
		AdminTLSCert: write(t, dir, "server.pem", srvCert), AdminTLSKey: write(t, dir, "server.key", srvKey),
		AdminTLSClientCA: write(t, dir, "clients.pem", clientCA.pem)}
	ln, err := ListenAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	get := func(certs ...tls.Certificate) error {
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
		resp, err := hc.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	pair := func(ca testCA) tls.Certificate {
		c, k := ca.issue(t, "operator", x509.ExtKeyUsageClientAuth)
		cert, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	if err := get(); err == nil {
		t.Error("a client without a certificate got through")
	}
	if err := get(pair(strangerCA)); err == nil {
		t.Error("a client certificate of another CA got through")
	}
	if err := get(pair(clientCA)); err != nil {
		t.Errorf("a client certificate of ADMIN_TLS_CLIENT_CA was refused: %v", err)
	}
	// Plain HTTP gets no answer from a TLS listener.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + ln.Addr().String() + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNoContent {
			t.Error("plain HTTP was served")
		}
	}
}

// TestAdminListenerIsOffWithoutTokens: no token file, or no address, no
// listener: the admin API never runs without a way to authorise calls.
func TestAdminListenerIsOffWithoutTokens(t *testing.T) {
	for _, cfg := range []config.Config{
		{AdminAddr: "127.0.0.1:0"},
		{AdminTokensFile: filepath.Join(t.TempDir(), "tokens")},
	} {
		ln, err := ListenAdmin(cfg)
		if err != nil || ln != nil {
			t.Errorf("ListenAdmin(%+v) = %v, %v; want no listener", cfg, ln, err)
		}
	}
	if _, err := ListenAdmin(config.Config{AdminAddr: "127.0.0.1:0", AdminTokensFile: "x", AdminTLSCert: "/nonexistent", AdminTLSKey: "/nonexistent"}); err == nil {
		t.Error("an unreadable certificate was accepted")
	}
}
