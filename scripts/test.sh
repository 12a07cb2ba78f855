#!/usr/bin/env bash
# Run the test suite. Pass pytest arguments through, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/../apps/training"
. .venv/bin/activate
ruff check src tests scripts bench ../simulator/src ../simulator/tests ../simulator/bench
set +e
python -m pytest "$@"
training=$?
(cd ../simulator && python -m pytest "$@")
app=$?
set -e
[ $training -eq 0 ] && [ $app -eq 0 ]
