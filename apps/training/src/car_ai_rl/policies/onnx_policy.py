"""An exported ONNX actor behind the policy interface (onnxruntime, one thread).

The model must carry the observation schema it was built for; a model built for another
schema is refused, since its inputs would mean something else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from car_ai_rl.envs.actions import ACTION_MODES
from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.policies.base import Policy, check_obs
from car_ai_rl.policies.plans import plan_controls
from car_ai_rl.policies.sb3_model import check_model_file
from car_ai_rl.sim.observation import OBS_DIM, OBS_SCHEMA_VERSION
from car_ai_rl.sim.params import SimParams, sim_params_from_dict
from car_ai_rl.sim.state import SimState

INPUT_NAME = "obs"
OUTPUT_NAMES = ("controls", "action")
PLAN_OUTPUT = "plan"  # a plan-mode graph's only output: the plan (int64 [N]) the driver follows
# metadata kept out of the identity: long, and implied by obs_schema_version
BULKY_METADATA = ("obs_schema", "obs_features")


def make_session(path: Path) -> Any:
    """An onnxruntime CPU session with one intra-op and one inter-op thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types on bad files
        raise UserError(f"{path}: not a loadable ONNX model: {_first_line(exc)}") from None


def graph_outputs(action_mode: str | None) -> tuple[str, ...]:
    """The outputs an exported graph gives: controls and the raw action, or for the ``plan``
    mode the plan, which the heuristic driver decodes from the state."""
    return (PLAN_OUTPUT,) if action_mode == "plan" else OUTPUT_NAMES


def check_interface(session: Any, path: Path, action_mode: str | None = None) -> None:
    """The graph must take obs [N, OBS_DIM] and give ``graph_outputs(action_mode)``."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        names = [i.name for i in inputs]
        raise UserError(f"{path}: incompatible ONNX model: inputs {names}, expected ['obs']")
    shape = inputs[0].shape
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != OBS_DIM):
        raise UserError(
            f"{path}: incompatible ONNX model: input shape {shape}, expected [N, {OBS_DIM}]"
        )
    outputs = [o.name for o in session.get_outputs()]
    expected = list(graph_outputs(action_mode))
    if outputs[: len(expected)] != expected:
        raise UserError(f"{path}: incompatible ONNX model: outputs {outputs}, expected {expected}")
    if action_mode == "plan":  # the plan index of each row
        plan = next(o for o in session.get_outputs() if o.name == PLAN_OUTPUT)
        if plan.type != "tensor(int64)":
            raise UserError(
                f"{path}: incompatible ONNX model: output 'plan' is {plan.type}, not int64"
            )


def check_action_mode(metadata: dict[str, str], path: Path) -> str | None:
    """The model's action mode (None for a model exported before it was recorded); its
    ``outputs`` metadata, when present, must name the graph outputs of that mode."""
    mode = metadata.get("action_mode")
    if mode is not None and mode not in ACTION_MODES:
        raise UserError(
            f"{path}: unknown action_mode {mode!r} in the metadata; expected one of "
            f"{', '.join(ACTION_MODES)}"
        )
    raw = metadata.get("outputs")
    if raw is not None:
        expected = list(graph_outputs(mode))
        try:
            outputs = json.loads(raw)
        except json.JSONDecodeError:
            outputs = raw
        if outputs != expected:
            raise UserError(
                f"{path}: the metadata lists outputs {outputs!r}, but a {mode} model gives "
                f"{expected}"
            )
    return mode


def check_schema(metadata: dict[str, str], path: Path) -> None:
    found = metadata.get("obs_schema_version")
    if found is None:
        raise UserError(
            f"{path}: the ONNX model has no obs_schema_version metadata; export it with "
            "`car-ai-rl export` so that its observation schema is known"
        )
    if found != OBS_SCHEMA_VERSION:
        raise UserError(
            f"{path}: the ONNX model was built for observation schema {found!r}, but this "
            f"build uses {OBS_SCHEMA_VERSION!r}; retrain or re-export it for this schema"
        )


class OnnxPolicy(Policy):
    kind = "onnx"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_model_file(self.path)
        self.session = make_session(self.path)
        self.model_metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        check_schema(self.model_metadata, self.path)
        self.action_mode = check_action_mode(self.model_metadata, self.path)
        check_interface(self.session, self.path, self.action_mode)
        self.name = self.path.stem
        self.sim_params = _params_from_metadata(self.model_metadata)

    def run(self, obs: np.ndarray) -> list[np.ndarray]:
        """The graph's outputs (``graph_outputs(self.action_mode)``) for obs (B, OBS_DIM)."""
        arr = check_obs(obs, OBS_DIM, self.name)
        return self.session.run(list(graph_outputs(self.action_mode)), {INPUT_NAME: arr})

    def act(self, obs: np.ndarray, state: SimState, params: SimParams) -> np.ndarray:
        if self.action_mode == "plan":
            (plans,) = self.run(obs)
            return plan_controls(state, params, plans)
        controls, _ = self.run(obs)
        return controls.astype(np.float64)

    def metadata(self) -> dict[str, str]:
        return {k: v for k, v in self.model_metadata.items() if k not in BULKY_METADATA}


def _params_from_metadata(metadata: dict[str, str]) -> SimParams | None:
    """The training params stored in the model, or None when absent or not valid here."""
    raw = metadata.get("sim_params")
    if not raw:
        return None
    try:
        return sim_params_from_dict(json.loads(raw))
    except (json.JSONDecodeError, ConfigError, TypeError):
        return None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
