#!/usr/bin/env bash
# Run the test suite. Pass pytest arguments through, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/../apps/training"
. .venv/bin/activate
ruff check src tests scripts bench
set +e
python -m pytest "$@"
code=$?
set -e
exit $code
