package kiln_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths and a
// pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kiln test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Serving HTTPS itself, Kiln sends HSTS, and the framing watcher still reads the decrypted
// requests: an ambiguous one is refused and its connection closed.
func TestServesTLSWithHSTSAndRefusesAmbiguousFraming(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t)
	dir := t.TempDir()
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: dir,
		MigrationsDir: filepath.Join(dir, "m"), Dev: true, LookupEnv: noEnv, AuthSecret: testSecret,
		TLSCertFile: certFile, TLSKeyFile: keyFile})
	require.NoError(t, err)
	defer app.Close()
	addr, stop := serveOn(t, app)
	defer func() {
		require.NoError(t, stop())
	}()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := client.Get("https://" + addr + "/api/products")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "max-age=31536000", res.Header.Get("Strict-Transport-Security"))

	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, "POST /api/tags HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"0\r\n\r\nGET /api/products HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	rd := bufio.NewReader(conn)
	first, err := http.ReadResponse(rd, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, first.StatusCode)
	_, _ = io.Copy(io.Discard, first.Body)
	_, err = http.ReadResponse(rd, nil)
	require.Error(t, err, "the smuggled request got no answer: the connection was closed")
}

func TestTLSNeedsBothFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := kiln.New(context.Background(), kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: dir,
		MigrationsDir: filepath.Join(dir, "m"), Dev: true, LookupEnv: noEnv, AuthSecret: testSecret, TLSCertFile: "cert.pem"})
	require.ErrorContains(t, err, "--tls-key")
}
