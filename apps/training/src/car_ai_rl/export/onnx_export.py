"""Export an SB3 PPO or DQN zip to ONNX, with metadata and a parity check.

The file is written to a temporary path and renamed into place only after every step
(export, metadata, checker, parity) succeeded, so a failed export leaves no .onnx behind.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from car_ai_rl import __version__
from car_ai_rl.atomic_io import atomic_path, remove_stale_temps
from car_ai_rl.envs.actions import DISCRETE_CONTROLS, LANE_THRESHOLD
from car_ai_rl.errors import UserError
from car_ai_rl.export import DEFAULT_N_CHECK, DEFAULT_OPSET, MIN_OPSET
from car_ai_rl.export.parity import ParityReport, check_parity
from car_ai_rl.policies.onnx_policy import graph_outputs
from car_ai_rl.policies.plans import PLAN_NAMES
from car_ai_rl.policies.sb3_model import ModelInfo, load_sb3
from car_ai_rl.sim.observation import (
    ALLOWED_ABOVE,
    N_VERDICTS,
    OBS_DIM,
    OBS_FEATURES,
    OBS_SCHEMA_VERSION,
    VERDICT_START,
    schema_as_dicts,
)

DYNAMIC_AXES = {"obs": {0: "N"}, "controls": {0: "N"}, "action": {0: "N"}, "plan": {0: "N"}}


class ParityError(UserError):
    """The exported graph disagrees with SB3 (exit code 1)."""

    exit_code = 1


@dataclass(frozen=True)
class ExportResult:
    path: Path
    metadata: dict[str, str]
    parity: ParityReport | None


def onnx_metadata(info: ModelInfo) -> dict[str, str]:
    """The ONNX ``metadata_props`` of an exported model (all values are strings)."""
    if info.action_mode == "discrete":
        decoding: dict[str, object] = {"table": DISCRETE_CONTROLS.tolist()}
    elif info.action_mode == "plan":
        decoding = {
            "plans": list(PLAN_NAMES),
            "driver": "the heuristic driver following the plan (car_ai_rl.policies.plans)",
        }
    else:
        decoding = {
            "throttle": "(a0 + 1) / 2",
            "brake": "max(a1, 0)",
            "lane_threshold": LANE_THRESHOLD,
        }
    return {
        "obs_schema_version": OBS_SCHEMA_VERSION,
        "obs_dim": str(OBS_DIM),
        "obs_features": json.dumps(list(OBS_FEATURES)),
        "obs_schema": json.dumps(schema_as_dicts()),
        "action_mode": info.action_mode,
        "outputs": json.dumps(list(graph_outputs(info.action_mode))),
        "action_decoding": json.dumps(decoding),
        "action_mask": (
            f"obs[{VERDICT_START}:{VERDICT_START + N_VERDICTS}] > {ALLOWED_ABOVE}"
            if info.masked and info.action_mode == "discrete"
            else "none"
        ),
        "controls": json.dumps(["throttle", "brake", "lane_request"]),
        "algo": info.algo,
        "train_steps": str(info.train_steps),
        "sim_params_hash": info.sim_params.digest(),
        "sim_params": json.dumps(info.sim_params.to_dict(), sort_keys=True),
        "sim_params_source": info.sim_params_source,
        "source_model": info.path.name,
        "sb3_version": info.sb3_version,
        "car_ai_rl_version": __version__,
    }


def export_graph(model: object, info: ModelInfo, target: Path, opset: int) -> None:
    """Trace the deterministic actor to ``target`` (TorchScript exporter, dynamic batch)."""
    import torch

    from car_ai_rl.export.actor import build_actor

    actor = build_actor(model, info.algo, info.action_mode, info.masked)
    dummy = torch.zeros((2, OBS_DIM), dtype=torch.float32)
    outputs = graph_outputs(info.action_mode)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            actor,
            (dummy,),
            str(target),
            input_names=["obs"],
            output_names=list(outputs),
            dynamic_axes={k: v for k, v in DYNAMIC_AXES.items() if k in ("obs", *outputs)},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )


def write_metadata(target: Path, metadata: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(str(target))
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "car-ai-rl"
    proto.producer_version = __version__
    label = f"{metadata['algo'].upper()} ({metadata['action_mode']})"
    outputs = ", ".join(json.loads(metadata["outputs"]))
    proto.doc_string = f"Deterministic {label} actor: obs -> {outputs}"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(target))


def check_output_path(model_path: Path, out_path: Path) -> None:
    if out_path.resolve() == model_path.resolve():
        raise UserError(f"{out_path}: the output would overwrite the model")
    if out_path.is_dir():
        raise UserError(f"{out_path}: is a directory; give the .onnx file name")
    parent = out_path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{parent}: cannot create the output directory: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise UserError(f"{parent}: output directory is not writable")


def export_onnx(
    model_path: str | Path,
    out_path: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
    n_check: int = DEFAULT_N_CHECK,
    log: Callable[[str], None] = print,
) -> ExportResult:
    """Export ``model_path`` to ``out_path``. Bad input raises UserError (exit 2); a failed
    parity check raises ParityError (exit 1). Either way no output file is written."""
    model_path, out_path = Path(model_path), Path(out_path)
    if opset < MIN_OPSET:
        raise UserError(f"--opset: must be >= {MIN_OPSET}, got {opset}")
    if check and n_check < 1:
        raise UserError(f"--n-check: must be >= 1, got {n_check}")
    log(f"loading {model_path}")
    model, info = load_sb3(model_path)
    check_output_path(model_path, out_path)
    log(
        f"model: {info.algo.upper()}, {info.action_mode} actions, {info.train_steps} training "
        f"steps, sim params {info.sim_params.digest()} ({info.sim_params_source})"
    )
    metadata = onnx_metadata(info)
    report = None
    for stale in remove_stale_temps(out_path.parent, out_path.name):
        log(f"removed {stale} (left by an interrupted export)")
    try:
        with atomic_path(out_path) as tmp:
            log(f"exporting the deterministic actor (opset {opset})")
            export_graph(model, info, tmp, opset)
            write_metadata(tmp, metadata)
            if check:
                report = run_parity(model, info, tmp, n_check, log)
                if not report.ok:
                    raise ParityError(f"parity check failed: {report.describe()}")
    except OSError as exc:
        raise UserError(f"{out_path}: cannot write: {exc.strerror or exc}") from None
    log(f"wrote {out_path}")
    return ExportResult(out_path, metadata, report)


def run_parity(
    model: object, info: ModelInfo, onnx_path: Path, n_check: int, log: Callable[[str], None]
) -> ParityReport:
    from car_ai_rl.export.actor import build_actor
    from car_ai_rl.policies.onnx_policy import make_session
    from car_ai_rl.policies.sb3_policy import SB3Policy

    log(f"parity check: collecting {n_check} observations from heuristic and model rollouts")
    session = make_session(onnx_path)
    body = build_actor(model, info.algo, info.action_mode, info.masked).body
    report = check_parity(SB3Policy(model, info), session, info.sim_params, n_check, body)
    verdict = "passed" if report.ok else "FAILED"
    log(f"parity check {verdict}: {report.describe()}")
    return report
