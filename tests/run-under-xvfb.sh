#!/bin/sh
# Runs a GTK test under a virtual X server and a private D-Bus session, or reports it skipped
# (TAP) when xvfb-run or dbus-run-session is missing.
if ! command -v xvfb-run >/dev/null 2>&1 || ! command -v dbus-run-session >/dev/null 2>&1; then
  echo "1..0 # SKIP xvfb-run and dbus-run-session are needed (packages xvfb, dbus)"
  exit 0
fi
exec xvfb-run -a -s "-screen 0 1600x1200x24" dbus-run-session -- "$@"
