"""``python -m car_ai_sim_app [flags]``: the same as ``car-ai-rl serve [flags]``."""

from car_ai_rl.cli import main

if __name__ == "__main__":
    import sys

    main(["serve", *sys.argv[1:]])
