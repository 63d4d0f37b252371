#!/usr/bin/env bash
# Runs every test. Installs what the tests need when it is missing (Mosquitto for the interoperability suite,
# libfaketime for the clock-jump chaos test, sqlite3 for the backup-and-restore test, systemd-analyze to check the deploy/systemd unit);
# a missing dependency is installed, never a reason to skip a test. Ends with "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

# libfaketime's library, wherever the Debian package put it (hardware-sim/AccessControl.Lab/Chaos/FakeWallClock.cs looks in the same places).
have_faketime() { for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do [ -e "$f" ] && return 0; done; return 1; }
need_apt=()
command -v mosquitto >/dev/null 2>&1 || need_apt+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || need_apt+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
have_faketime || need_apt+=(faketime)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq >/dev/null || true
  # The package's post-install hook may fail to start the daemon without an init system; that is harmless.
  $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null || true
  command -v mosquitto >/dev/null 2>&1 || { echo "mosquitto could not be installed"; echo "tests: 0 passed, 1 failed"; exit 1; }
  have_faketime || { echo "faketime could not be installed"; echo "tests: 0 passed, 1 failed"; exit 1; }
  command -v sqlite3 >/dev/null 2>&1 || { echo "sqlite3 could not be installed"; echo "tests: 0 passed, 1 failed"; exit 1; }
  command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze could not be installed"; echo "tests: 0 passed, 1 failed"; exit 1; }
fi
# The daemon the package may have started is not ours: tests start their own brokers on free ports.

results="$(pwd)/TestResults"
rm -rf "$results"
dotnet test AccessControl.sln -c Release --nologo \
  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=minimal" \
  --results-directory "$results" "$@"
status=$?

passed=0; failed=0
for trx in $(find "$results" -name '*.trx' 2>/dev/null); do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(echo "$counters" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p'); p=${p:-0}
  f=$(echo "$counters" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p'); f=${f:-0}
  passed=$((passed + p)); failed=$((failed + f))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1  # the build or the runner failed before reporting any test
fi
echo "tests: ${passed} passed, ${failed} failed"
exit $status
