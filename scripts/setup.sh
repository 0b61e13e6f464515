#!/usr/bin/env bash
# One-command setup: a .venv with pinned dependencies and this package installed editable.
# Idempotent: re-running with unchanged requirements does nothing. No ROS install needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! command -v check_urdf >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing liburdfdom-tools (check_urdf) with apt-get"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liburdfdom-tools) \
      >/dev/null 2>&1 || echo "setup: warning: could not install liburdfdom-tools; the check_urdf test will be skipped"
  else
    echo "setup: note: check_urdf not found; 'sudo apt-get install liburdfdom-tools' enables its test"
  fi
fi

if ! command -v chromium >/dev/null 2>&1; then
  # headless Chromium for the viewer's browser check (test/test_viz_browser.py skips without it)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium (the viewer's browser check) with apt-get"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
      >/dev/null 2>&1 || echo "setup: warning: could not install chromium; the browser check will be skipped"
  else
    echo "setup: note: chromium not found; 'sudo apt-get install chromium' enables the viewer's browser check"
  fi
fi

stamp="$VENV/.humanoid_manip-setup"
want=$(cat requirements.txt requirements-train.txt constraints.txt setup.py | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/humanoid-manip" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
echo "setup: installing pinned dependencies into $VENV (about a minute the first time)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
# PyTorch, for learn/ and its tests (the CPU wheel: 30-60 s); the runtime never imports it
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-train.txt -c constraints.txt
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
echo "$want" > "$stamp"
echo "setup: done; activate with 'source $VENV/bin/activate'"
