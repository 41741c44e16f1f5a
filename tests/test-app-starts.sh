#!/bin/sh
# The app starts under Xvfb, shows its window and keeps running without a GLib warning
# (G_DEBUG=fatal-warnings turns any into a crash) until it is stopped.
set -u
app="$1"
# The build's compiled GSettings schema, when given.
if [ -n "${2:-}" ]; then
  export GSETTINGS_SCHEMA_DIR="$2"
fi
echo "1..1"
if ! command -v xvfb-run >/dev/null 2>&1 || ! command -v dbus-run-session >/dev/null 2>&1; then
  echo "ok 1 # SKIP xvfb-run and dbus-run-session are needed (packages xvfb, dbus)"
  exit 0
fi
log=$(mktemp)
# The catalog goes to a scratch folder, never the user's.
LIKENESS_DATA_DIR=$(mktemp -d)
export LIKENESS_DATA_DIR
trap 'rm -f "$log"; rm -rf "$LIKENESS_DATA_DIR"' EXIT
xvfb-run -a -s "-screen 0 800x600x24" dbus-run-session -- timeout -s TERM 8 "$app" >"$log" 2>&1
status=$?
# timeout's 124 means the app was still running when it was stopped: what we want.
if [ "$status" -ne 124 ]; then
  echo "not ok 1 - likeness exited with status $status before it was stopped"
  sed 's/^/# /' "$log"
  exit 1
fi
if grep -E "CRITICAL|WARNING" "$log" | grep -v "dbus-daemon" >/dev/null; then
  echo "not ok 1 - likeness printed warnings"
  sed 's/^/# /' "$log"
  exit 1
fi
echo "ok 1 - likeness starts and runs"
