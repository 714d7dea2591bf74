#!/usr/bin/env bash
# Installs what the build and the tests need on a bare Debian machine: the Debian
# packages in scripts/packages-deb.txt (root) and, into .venv, the PyPI packages in
# scripts/packages-pip*.txt (test peers and real models). Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(grep -v '^#' scripts/packages-deb.txt | xargs)
missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PyPI: tests that use these report skipped when .venv is absent; failures here are not fatal.
pip_want=$(grep -v '^#' scripts/packages-pip.txt | xargs || true)
pip_nodeps=$(grep -v '^#' scripts/packages-pip-nodeps.txt | xargs || true)
stamp=.venv/.mlxn-$(cat scripts/packages-pip.txt scripts/packages-pip-nodeps.txt | sha1sum | cut -c1-12)
if [ ! -e "$stamp" ]; then
  if python3 -m venv .venv && .venv/bin/pip install -q --disable-pip-version-check $pip_want &&
     .venv/bin/pip install -q --disable-pip-version-check --no-deps $pip_nodeps; then
    touch "$stamp"
  else
    echo "setup: PyPI packages not installed; the tests that read them will skip" >&2
  fi
fi
