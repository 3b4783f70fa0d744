package main

// samsa tls dev-certs DIR: throwaway certificates for development (a CA, a
// broker certificate, a client certificate for mTLS) and the properties
// that use them.

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/samsa-io/samsa/broker"
)

const tlsUsage = `Usage: samsa tls dev-certs [--host NAME,...] [--days N] DIR

Writes a throwaway CA, a broker certificate (for localhost, 127.0.0.1, ::1
and every --host) and a client certificate (CN=client, for mTLS) into DIR,
as PEM, PKCS12 and JKS (store password ` + broker.DevCertsPassword + `), then prints the
server.properties lines that use them. For development and tests only: the
CA's key lies next to it.
`

func tlsCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "dev-certs" {
		fmt.Fprint(stderr, tlsUsage)
		return 2
	}
	fs := flag.NewFlagSet("samsa tls dev-certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tlsUsage) }
	hosts := fs.String("host", "", "extra host names or addresses of the broker certificate, comma-separated")
	days := fs.Int("days", 365, "validity in days")
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 || *days <= 0 {
		fs.Usage()
		return 2
	}
	dir, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "samsa: %v\n", err)
		return 1
	}
	var extra []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			extra = append(extra, h)
		}
	}
	if err := broker.DevCerts(dir, extra, time.Duration(*days)*24*time.Hour); err != nil {
		fmt.Fprintf(stderr, "samsa: %v\n", err)
		return 1
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	fmt.Fprintf(stdout, `# wrote %s
# Broker (server.properties, or --override / KAFKA_* variables):
listeners=PLAINTEXT://localhost:9092,SSL://localhost:9093
ssl.keystore.type=PKCS12
ssl.keystore.location=%s
ssl.keystore.password=%s
ssl.truststore.location=%s
ssl.truststore.password=%s
# ssl.client.auth=required   # mTLS: clients present client.pem/client.key
#
# Clients: trust %s
#   kcat -b localhost:9093 -X security.protocol=ssl -X ssl.ca.location=%s -L
#   Java: ssl.truststore.location=%s ssl.truststore.password=%s
`, dir, p("broker.p12"), broker.DevCertsPassword, p("truststore.p12"), broker.DevCertsPassword,
		p("ca.pem"), p("ca.pem"), p("truststore.p12"), broker.DevCertsPassword)
	return 0
}
