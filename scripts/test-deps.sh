#!/usr/bin/env bash
# Installs the servers the tests run for real, from Debian's packages: redis-server (the
# supervision tree test that freezes Redis), prometheus (promtool checks the metrics exposition
# and the alerting rules in ops/ with their unit tests; a real Prometheus scrapes it), chromium
# (the dashboard test drives it with playwright-core) and
# systemd (systemd-analyze verify checks the unit `steward unit` prints; systemd-notify is how
# steward speaks to $NOTIFY_SOCKET: no systemd runs in the test, python3 fakes the socket).
# Needs root or sudo; does nothing when all are there.
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools) # the README's example probe and the Redis Cluster tests
{ command -v prometheus && command -v promtool; } >/dev/null || missing+=(prometheus)
command -v chromium >/dev/null || missing+=(chromium)
{ command -v systemd-analyze && command -v systemd-notify; } >/dev/null || missing+=(systemd)
command -v python3 >/dev/null || missing+=(python3)
[ ${#missing[@]} -eq 0 ] && exit 0
run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "test-deps: installing ${missing[*]}" >&2
run apt-get update -qq
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
