// Command neuronmeet serves the NeuronMeet API: GraphQL at /query (with
// the playground at /), the legacy REST shim, and health checks.
//
//	neuronmeet                    serve (default)
//	neuronmeet migrate            apply database migrations and exit
//	neuronmeet migrate status     list migrations, applied or pending
//	neuronmeet migrate rollback   undo the last group of migrations
//	neuronmeet seed               create a demo host with rooms and print its token
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
	cmd := arg(1)
	if cmd == "" {
		cmd = "serve"
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
		switch sub := arg(2); sub {
		case "":
			err = app.Migrate(ctx, cfg, log)
		case "status":
			err = app.MigrateStatus(ctx, cfg, os.Stdout)
		case "rollback":
			err = app.MigrateRollback(ctx, cfg, os.Stdout)
		default:
			err = fmt.Errorf("unknown migrate command %q (want status or rollback, or nothing to apply migrations)", sub)
		}
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

// arg is the i-th command-line argument, or "".
func arg(i int) string {
	if i < len(os.Args) {
		return os.Args[i]
	}
	return ""
}
