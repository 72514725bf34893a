// Package deploy holds what an operator deploys quicpush with, none of it Go:
// the container image (docker/Dockerfile), the systemd unit and its
// environment files (systemd/), and the Helm chart (helm/quicpush, linted and
// rendered by `make lint-chart`). docs/deploy.md explains them.
//
// The package's tests read those files so that they cannot drift silently:
// the image is built with the Makefile's build command, exposes the ports the
// commands listen on by default and runs as a non-root user without a shell;
// the unit keeps its hardening options and, where systemd-analyze exists,
// parses without a warning. No Docker daemon or service manager is needed:
// these are checks of the files, not of a running container or service.
package deploy
