"""Regenerate docs/config-reference.md from the config classes (run after changing one)."""

from car_ai_rl.config_reference import write

if __name__ == "__main__":
    print(f"wrote {write()}")
