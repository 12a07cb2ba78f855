"""``python -m car_ai_sim_app [flags]``: the same as ``car-ai-rl serve [flags]``."""

import sys

from car_ai_sim_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
