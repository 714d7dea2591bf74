#!/usr/bin/env bash
# Installs what the build and the tests need on a bare Debian machine: the Debian
# packages in scripts/packages-deb.txt (root) and, into .venv, the PyPI packages in
# scripts/packages-pip.txt (test peers and real models). Idempotent and quiet when all is there.
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
if [ -n "$pip_want" ]; then
  stamp=.venv/.mlxn-$(sha1sum scripts/packages-pip.txt | cut -c1-12)
  if [ ! -e "$stamp" ]; then
    python3 -m venv .venv && .venv/bin/pip install -q --disable-pip-version-check $pip_want \
      && touch "$stamp" || echo "setup: PyPI packages not installed; their tests will skip" >&2
  fi
fi
