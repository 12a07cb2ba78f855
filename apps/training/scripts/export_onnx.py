"""Export an SB3 PPO or DQN zip to ONNX (same as ``car-ai-rl export``).

    python scripts/export_onnx.py runs/ppo-local/ppo-highway-final.zip \
        runs/ppo-local/ppo-highway-final.onnx [--no-check] [--opset 17] [--n-check 10000]
"""

import sys

from car_ai_rl.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
