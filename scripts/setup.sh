#!/usr/bin/env bash
# Create apps/training/.venv and install car-ai-rl with its test and benchmark extras.
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
python -m pip install --quiet -e ".[dev,bench]"
python -c "import torch, car_ai_rl; print('car-ai-rl', car_ai_rl.__version__, 'torch', torch.__version__)"
