#!/usr/bin/env bash
# Sets up (if needed) and runs the main job. Extra args go to the command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/humanoid-manip up sim --enable --task dryer_open --seed 1000000 "$@"
