// vcsim for tsvirt's ESX tests: govmomi's vSphere API simulator (from Debian's
// golang-github-vmware-govmomi-dev, which ships the simulator package but no vcsim main) on
// 127.0.0.1 with TLS. Prints its SDK URL on stdout once it accepts connections, then serves
// until stdin closes or it gets SIGTERM/SIGINT, so a test that dies cannot leave it behind.
package main

import (
	"crypto/tls"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	vpx := flag.Bool("vpx", false, "simulate a vCenter (VPX) instead of a standalone ESX host")
	vms := flag.Int("vm", 2, "virtual machines per resource pool")
	user := flag.String("username", "", "the only user accepted (default: any non-empty user)")
	pass := flag.String("password", "", "the password of -username")
	certOut := flag.String("cert-out", "", "write the server's certificate (PEM) to this file")
	flag.Parse()

	model := simulator.ESX()
	if *vpx {
		model = simulator.VPX()
	}
	model.Machine = *vms
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim: create:", err)
		os.Exit(1)
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: "127.0.0.1:0"}
	if *user != "" {
		model.Service.Listen.User = url.UserPassword(*user, *pass)
	}
	model.Service.TLS = simulatorTLS()
	server := model.Service.NewServer()
	defer server.Close()

	if *certOut != "" {
		block := &pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw}
		if err := os.WriteFile(*certOut, pem.EncodeToMemory(block), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "vcsim: cert-out:", err)
			os.Exit(1)
		}
	}

	u := *server.URL
	u.User = nil
	fmt.Println(u.String())

	done := make(chan struct{}, 2)
	go func() {
		// The parent holds our stdin open; when it goes away, so do we.
		_, _ = io.Copy(io.Discard, os.Stdin)
		done <- struct{}{}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		done <- struct{}{}
	}()
	<-done
}

// simulatorTLS turns TLS on with the simulator's built-in self-signed localhost certificate
// (an empty config makes the server fill it in), which clients do not trust unless told to.
func simulatorTLS() *tls.Config {
	return new(tls.Config)
}
