#!/usr/bin/env bash
# Create apps/training/.venv and install car-ai-rl with its test, benchmark and Ray extras
# (the Ray job backend's tests need Ray).
# torch is installed first, pinned, so that no other requirement can pull a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/../apps/training"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet -e ".[dev,bench,ray]"
# the simulator app: its package, onnxruntime-web from npm, and Debian's chromium for the
# browser tests (driven by the playwright Python package; no browser download)
python -m pip install --quiet -e ../simulator playwright
(cd ../simulator/src/car_ai_sim_app/web && npm ci --no-audit --no-fund --loglevel=error)
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: install Debian's chromium (sudo apt-get install chromium) for the browser tests" >&2
  fi
fi
python -c "import torch, car_ai_rl; print('car-ai-rl', car_ai_rl.__version__, 'torch', torch.__version__)"
