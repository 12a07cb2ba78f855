#!/usr/bin/env bash
# The main job on embedded defaults: train PPO with the seed command, export it to ONNX, pick
# the run's best checkpoint on validation episodes and ship that one: export it, roll it out,
# evaluate it against the heuristic driver, then serve it in the voice-driven simulator.
# STEPS=... overrides the step count (default: the seed's 1,500,000); LOG_DIR=... the run's
# directory, relative to apps/training (default runs/ppo-local); SERVE=0 skips serving.
# Run again, it continues the training in $LOG_DIR (nothing to do if it finished; more steps if
# STEPS grew); FRESH=1 moves that run aside to $LOG_DIR.old-<time> and trains a new one.
set -euo pipefail
cd "$(dirname "$0")/../apps/training"
. .venv/bin/activate
STEPS=${STEPS:-1500000}
LOG_DIR=${LOG_DIR:-runs/ppo-local}
RUN=()
if [ "${FRESH:-0}" != 0 ]; then
  RUN=(--force)
elif [ -f "$LOG_DIR/run.json" ]; then
  RUN=(--resume)
fi
python scripts/train_ppo.py --steps "$STEPS" --n-envs 4 --log-dir "$LOG_DIR" ${RUN[@]+"${RUN[@]}"}
python scripts/export_onnx.py "$LOG_DIR/ppo-highway-final.zip" "$LOG_DIR/ppo-highway-final.onnx"
# Picked when the run has no pick yet or a newer final model than its pick (a resumed run);
# -nt is also true when the pick does not exist.
if [ "$LOG_DIR/ppo-highway-final.zip" -nt "$LOG_DIR/ppo-highway-best.zip" ]; then
  car-ai-rl pick-checkpoint "$LOG_DIR" --force
fi
python scripts/export_onnx.py "$LOG_DIR/ppo-highway-best.zip" "$LOG_DIR/ppo-highway-best.onnx"
car-ai-rl episodes --policy "$LOG_DIR/ppo-highway-best.zip" --episodes 500 --seed 1 \
  --out "$LOG_DIR/episodes-best" --video 2
# the gate judges this run's pick; another run's report goes beside that run
GATE_DIR=runs/evals/highway_cruise
[ "$LOG_DIR" = runs/ppo-local ] || GATE_DIR="$LOG_DIR/evals/highway_cruise"
status=0
car-ai-rl eval --config evals/highway_cruise.yaml --candidate "ppo=$LOG_DIR/ppo-highway-best.onnx" \
  --out "$GATE_DIR" || status=$?
if [ "$status" = 1 ]; then
  echo "the evaluation gate reported a regression (see $GATE_DIR/report.html)"
elif [ "$status" != 0 ]; then
  exit "$status"
fi
if [ "${SERVE:-1}" != 0 ]; then
  echo "serving the simulator on http://127.0.0.1:8000 (Ctrl-C to stop)"
  exec car-ai-rl serve --model "$LOG_DIR/ppo-highway-best.onnx"
fi
