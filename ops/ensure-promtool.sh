#!/usr/bin/env bash
# promtool validates ops/prometheus/alerts.yml (make lint, make test). Installed from the
# distribution's `prometheus` package when missing; the Prometheus service itself is not used
# (and not started: policy-rc.d refuses it while the package installs).
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "promtool is missing: install Prometheus' promtool (https://prometheus.io/download/)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
trap '[ -n "$created_policy" ] && $SUDO rm -f "$policy"' EXIT
install() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; }
# A fresh machine may have no package lists yet: fetch them once and try again.
install || { $SUDO apt-get update -qq && install; }
command -v promtool >/dev/null
