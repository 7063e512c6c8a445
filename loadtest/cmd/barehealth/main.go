// Command barehealth is the baseline of the cached-query benchmark in BENCHMARKS.md: a bare
// grpc-go server answering only grpc.health.v1.Health/Check (and reflection, for ghz), so
// olapgate's cached answers can be compared with the cheapest gRPC call there is under the
// same load tool.
//
//	go run ./loadtest/cmd/barehealth -addr 127.0.0.1:9091
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9091", "listen address (loopback)")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	reflection.Register(s)
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		s.GracefulStop()
	}()
	fmt.Println("serving grpc.health.v1 on", ln.Addr())
	if err := s.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
