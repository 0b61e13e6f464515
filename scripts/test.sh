#!/usr/bin/env bash
# Sets up (if needed) and runs the whole test suite and the linter. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
