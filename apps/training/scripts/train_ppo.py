"""Train PPO on the highway env: `python scripts/train_ppo.py --steps 1500000 --n-envs 4 --log-dir runs/ppo-local`."""

from car_ai_rl.train.cli import script_main

if __name__ == "__main__":
    script_main("ppo")
