"""``load_policy(source)``: "heuristic", "oracle", an SB3 ``.zip`` or an ``.onnx`` file."""

from __future__ import annotations

from pathlib import Path

from car_ai_rl.policies.base import Policy
from car_ai_rl.policies.heuristic_policy import HeuristicPolicy
from car_ai_rl.policies.sb3_model import check_model_file

HEURISTIC = "heuristic"
ORACLE = "oracle"
ZIP_MAGIC = b"PK\x03\x04"


def load_policy(source: str | Path) -> Policy:
    """Load a policy. Missing, unreadable, corrupted or incompatible models raise
    :class:`UserError` (exit code 2) whose message names the file."""
    if str(source) == HEURISTIC:
        return HeuristicPolicy()
    if str(source) == ORACLE:
        from car_ai_rl.policies.oracle_policy import OraclePolicy

        return OraclePolicy()
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in (".zip", ".onnx"):
        check_model_file(path, "policy")
        with open(path, "rb") as f:
            suffix = ".zip" if f.read(4) == ZIP_MAGIC else ".onnx"
    if suffix == ".zip":
        from car_ai_rl.policies.sb3_policy import load_sb3_policy

        return load_sb3_policy(path)
    from car_ai_rl.policies.onnx_policy import OnnxPolicy

    return OnnxPolicy(path)
