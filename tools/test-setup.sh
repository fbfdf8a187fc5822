#!/bin/sh
# What the tests need besides Python, set up by `make test`: Chromium, Node and npm (the search
# client and the test tools), Java (the Nu HTML Checker), and the npm test tools (axe-core,
# vnu-jar) in tools/node_modules, pinned by tools/package-lock.json.
# On Debian as root, missing system packages are installed; otherwise one line says what to install.
set -eu
cd "$(dirname "$0")"
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
command -v java >/dev/null 2>&1 || missing="$missing default-jre-headless"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
  else
    echo "make test needs:$missing (Debian: sudo apt-get install -y$missing; elsewhere your system's Chromium at /usr/bin/chromium, Node.js with npm, a Java runtime)" >&2
    exit 1
  fi
fi
# npm ci when the installed tools are missing or older than the lock file; no install scripts
# (vnu-jar's would fetch a Java runtime: the system's is used)
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2
fi
