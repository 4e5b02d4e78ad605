// vcsim-lab: govmomi's vCenter simulator, shaped by a JSON scenario and extended
// where it lacks what a real vCenter does (CDP/LLDP neighbours in QueryNetworkHint,
// migration events, request counters), served over https with a self-signed
// certificate that can be kept across restarts.
//
// When ready it prints one JSON line on stdout:
//   {"url": "https://127.0.0.1:PORT/sdk", "thumbprint": "<64 hex>", "control": "http://127.0.0.1:PORT", ...}
//
// It must never listen on anything but the addresses it is given (loopback by
// default), and never need the network to build or run.

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
)

func main() {
	scenarioPath := flag.String("scenario", "", "JSON scenario file (required)")
	listen := flag.String("listen", "127.0.0.1:0", "address of the vCenter (https) endpoint")
	control := flag.String("control", "127.0.0.1:0", "address of the control (http) endpoint")
	certFile := flag.String("cert", "", "PEM certificate; created with -key when missing")
	keyFile := flag.String("key", "", "PEM private key; created with -cert when missing")
	dataDir := flag.String("data", "", "directory for the simulated datastore (default: a temporary one)")
	verbose := flag.Bool("verbose", false, "keep the simulator's own log on stderr")
	flag.Parse()
	if err := run(*scenarioPath, *listen, *control, *certFile, *keyFile, *dataDir, *verbose); err != nil {
		fmt.Fprintf(os.Stderr, "vcsim-lab: %v\n", err)
		os.Exit(1)
	}
}

func run(scenarioPath, listen, control, certFile, keyFile, dataDir string, verbose bool) error {
	if scenarioPath == "" {
		return errors.New("-scenario FILE is required")
	}
	if !verbose {
		log.SetOutput(io.Discard)
	}
	scenario, err := loadScenario(scenarioPath)
	if err != nil {
		return err
	}
	cert, err := certificate(certFile, keyFile)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(cert.Certificate[0])
	thumbprint := strings.ToUpper(hex.EncodeToString(sum[:]))

	ownData := dataDir == ""
	if ownData {
		if dataDir, err = os.MkdirTemp("", "vcsim-lab-"); err != nil {
			return err
		}
		defer os.RemoveAll(dataDir)
	}

	model := simulator.VPX()
	model.Autostart = false
	model.Datacenter = 1
	model.Cluster = 0
	model.ClusterHost = 0
	model.Host = 0
	model.Machine = 0
	model.Portgroup = 0
	model.Datastore = 0
	if err := model.Create(); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer model.Remove()

	ctx := context.Background()
	service := model.Service
	client, err := vim25.NewClient(ctx, service)
	if err != nil {
		return err
	}
	lab := newLab(scenario, client, dataDir)
	if err := lab.build(ctx); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}

	// Let the simulator set up its handlers (on a throw-away listener), then serve
	// them behind the lab's front on our own listener.
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(scenario.Username, scenario.Password)}
	service.TLS = tlsConfig
	inner := service.NewServer()
	inner.Close()
	lab.sdk = service.ServeMux

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	simulator.Map.SessionManager().ServiceHostName = addr
	server := &http.Server{Handler: lab, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = server.Serve(tls.NewListener(ln, tlsConfig)) }()

	cln, err := net.Listen("tcp", control)
	if err != nil {
		return err
	}
	controlServer := &http.Server{Handler: lab.controlMux()}
	go func() { _ = controlServer.Serve(cln) }()

	ready := map[string]string{
		"url":        "https://" + addr + "/sdk",
		"thumbprint": thumbprint,
		"control":    "http://" + cln.Addr().String(),
		"username":   scenario.Username,
		"pid":        fmt.Sprint(os.Getpid()),
	}
	line, _ := json.Marshal(ready)
	fmt.Println(string(line))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	_ = controlServer.Close()
	_ = server.Close()
	return nil
}

// certificate loads the certificate and key, or makes a self-signed pair (and saves
// it when paths are given, so a restarted lab keeps its identity).
func certificate(certFile, keyFile string) (tls.Certificate, error) {
	if (certFile == "") != (keyFile == "") {
		return tls.Certificate{}, errors.New("give both -cert and -key, or neither")
	}
	if certFile != "" {
		if _, err := os.Stat(certFile); err == nil {
			return tls.LoadX509KeyPair(certFile, keyFile)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "vcsim-lab", Organization: []string{"eos-vmtracer lab"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if certFile != "" {
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, err
		}
		if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
			return tls.Certificate{}, err
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
