// Command neuronmeet serves the NeuronMeet API: GraphQL at /query (with
// the playground at /), the legacy REST shim, and health checks.
//
//	neuronmeet           serve (default)
//	neuronmeet migrate   apply database migrations and exit
//	neuronmeet seed      create a demo host with rooms and print its token
//
// The wiring lives in package app; this file only picks the subcommand.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/neuronmeet/api/app"
)

func main() {
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	cfg, err := app.LoadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "configuration:", err)
		os.Exit(2)
	}
	log := app.NewLogger(os.Stderr, cfg.LogLevel)
	app.RouteStandardLog(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "serve":
		err = app.Serve(ctx, cfg, log)
	case "migrate":
		err = app.Migrate(ctx, cfg, log)
	case "seed":
		err = app.Seed(ctx, cfg, log, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q (want serve, migrate or seed)", cmd)
	}
	if err != nil {
		log.Error("exiting", "err", err)
		os.Exit(1)
	}
}
