// Command quicpush runs the quicpush push service and its helpers:
//
//	quicpush serve    everything in one process (the default deployment)
//	quicpush api      the push API of a cluster, publishing to Kafka
//	quicpush core     a cluster's consumer: Kafka to the edges
//	quicpush edge     a cluster's client connections
//	quicpush token    sign a development client token
//	quicpush listen   connect as a client and print what arrives
//
//	quicpush config   check a configuration file
//
// Every flag has an environment twin named QUICPUSH_<FLAG>, and serve, api,
// core and edge read a YAML configuration file with --config.
package main

import (
	"os"

	"github.com/alecthomas/kong"
)

type cli struct {
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit (as the version command)."`

	Serve   serveCmd   `cmd:"" help:"Run edge, core and push API in one process with an in-process bus."`
	API     apiCmd     `cmd:"" name:"api" help:"Cluster: run the push API, publishing to Kafka; online counts from Redis."`
	Core    coreCmd    `cmd:"" help:"Cluster: consume Kafka and hand each message to the edges that need it."`
	Edge    edgeCmd    `cmd:"" help:"Cluster: hold client connections; routes and rooms are published to Redis."`
	Token   tokenCmd   `cmd:"" help:"Sign a client token (HS256) with the development secret."`
	Listen  listenCmd  `cmd:"" help:"Connect as a client, join rooms and print every push."`
	Version versionCmd `cmd:"" help:"Print the version."`
	Config  configCmd  `cmd:"" help:"Configuration file helpers."`
}

func main() {
	var c cli
	ctx := kong.Parse(&c, options()...)
	if err := ctx.Run(); err != nil {
		ctx.Errorf("%v", err)
		os.Exit(1)
	}
}

// options configure the command line parser, for main and the tests.
func options() []kong.Option {
	return []kong.Option{
		kong.Name("quicpush"),
		kong.Description("A push service over QUIC, WebTransport, TCP and WebSocket."),
		kong.UsageOnError(),
		kong.DefaultEnvars("QUICPUSH"),
		kong.Configuration(loadYAML),
		kong.Vars{"version": versionString()},
	}
}
