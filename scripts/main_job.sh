#!/usr/bin/env bash
# The main job on embedded defaults: train PPO with the seed command, then show how it drives.
# Override the step count with STEPS=... (default: the seed's 1,500,000).
set -euo pipefail
cd "$(dirname "$0")/../apps/training"
. .venv/bin/activate
STEPS=${STEPS:-1500000}
LOG_DIR=${LOG_DIR:-runs/ppo-local}
python scripts/train_ppo.py --steps "$STEPS" --n-envs 4 --log-dir "$LOG_DIR"
if [ -f scripts/export_onnx.py ]; then
  python scripts/export_onnx.py "$LOG_DIR/ppo-highway-final.zip" "$LOG_DIR/ppo-highway-final.onnx"
fi
if car-ai-rl episodes --help >/dev/null 2>&1; then
  car-ai-rl episodes --policy "$LOG_DIR/ppo-highway-final.zip" --episodes 500 --seed 1 \
    --out "$LOG_DIR/episodes" --video 2
fi
if [ -f "$LOG_DIR/ppo-highway-final.onnx" ] && car-ai-rl eval --help >/dev/null 2>&1; then
  car-ai-rl eval --config evals/highway_cruise.yaml --out "$LOG_DIR/eval" || echo "evaluation gate reported a regression (exit $?)"
fi
