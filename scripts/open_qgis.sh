#!/usr/bin/env bash
# Opens QGIS with HyperSynth installed (a private profile) and the demo project loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/desktop.py "$@"
