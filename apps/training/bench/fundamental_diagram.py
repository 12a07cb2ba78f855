"""The fundamental diagram of the simulator's traffic, measured with a passive ego, over the
IDM equilibrium theory curve.

For each requested density (3 lanes by default) a batch of envs runs with the ego driving as a
passive IDM car that never changes lanes. Edie's definitions over the ego's window and the
measurement time (``car_ai_rl.sim.traffic_measures``) give density k = total time spent /
(window length x lanes x time), flow q = total distance travelled / (the same area), and
space-mean speed q / k. The first ``--warmup-s`` are left out of the means;
``density_first_20s`` and ``density_last_20s`` show the density holds over the episode.

The theory curve is the IDM equilibrium of the traffic's own parameters (mean desired speed, the
mean, lowest and highest time headway, mean vehicle length with the heavy share): at speed v the
gap is s_e(v) = (s0 + v T) / sqrt(1 - (v / v0)^4), so k = 1 / (s_e + l) and q = k v.

    python bench/fundamental_diagram.py [--envs 24] [--duration-s 240] [--png runs/fd.png]

The last line of output is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from car_ai_rl.policies.passive import passive_controls
from car_ai_rl.sim import core
from car_ai_rl.sim.idm import equilibrium_gap_m
from car_ai_rl.sim.params import SimParams, sim_params_from_dict
from car_ai_rl.sim.traffic_measures import window_density_flow

DENSITIES = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0, 60.0)
MPS_TO_KMH = 3.6


def measurement_params(density: float, duration_s: float, n_lanes: int) -> SimParams:
    """Default traffic at ``density``; the ego cruises, and nothing ends its episode early."""
    return sim_params_from_dict(
        {
            "n_lanes": n_lanes,
            "traffic_density": density,
            "episode_duration_s": duration_s,
            "mission_changes": False,
            "mission_mix": {"cruise": 1.0, "lane": 0.0, "exit": 0.0},
        }
    )


def measure(params: SimParams, n_envs: int, seed: int, warmup_s: float) -> dict[str, float]:
    """One point of the diagram: Edie's density, flow and speed over the ego's window."""
    state, _ = core.reset(params, core.seeds_from_ints(seed, n_envs))
    steps = params.max_steps
    density = np.zeros(steps)  # vehicles/km/lane, batch mean per step
    flow = np.zeros(steps)  # vehicles/h/lane
    for t in range(steps):
        _, result = core.step(state, passive_controls(state, params), params)
        if result.done[:n_envs].any() and t < steps - 1:
            raise RuntimeError("an episode ended early; the measurement needs whole episodes")
        k, q = window_density_flow(state, params)
        density[t] = k.mean()
        flow[t] = q.mean()
    warm = int(round(warmup_s * params.decision_hz))
    span = int(round(20.0 * params.decision_hz))
    k = float(density[warm:].mean())
    q = float(flow[warm:].mean())
    return {
        "requested_density": params.traffic_density,
        "density_mean": round(k, 3),
        "density_first_20s": round(float(density[:span].mean()), 3),
        "density_last_20s": round(float(density[-span:].mean()), 3),
        "flow_veh_h_lane": round(q, 1),
        "mean_speed_mps": round(q / k / MPS_TO_KMH, 3) if k > 0 else None,
        "vehicles": params.vehicle_count,
    }


def idm_equilibrium(params: SimParams, headway_s: float, n: int = 200) -> list[dict[str, float]]:
    """The IDM equilibrium curve of the traffic's mean driver with time headway ``headway_s``."""
    heavy = params.heavy_vehicle_share
    desired = (1 - heavy) * 0.5 * (
        params.traffic_speed_min_mps + params.traffic_speed_max_mps
    ) + heavy * 0.5 * (params.heavy_speed_min_mps + params.heavy_speed_max_mps)
    length = (1 - heavy) * params.vehicle_length_m + heavy * params.heavy_length_m
    curve = []
    for v in np.linspace(0.0, desired * 0.999, n):
        gap = equilibrium_gap_m(float(v), desired, headway_s, params.traffic_min_gap_m)
        k = 1000.0 / (gap + length)
        curve.append(
            {
                "density": round(k, 3),
                "flow_veh_h_lane": round(k * v * MPS_TO_KMH, 1),
                "speed_mps": round(float(v), 3),
            }
        )
    return curve


def plot(points: list[dict], theory: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_q, ax_v) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"mean": "-", "lowest": ":", "highest": "--"}
    for name, curve in theory.items():
        k = [c["density"] for c in curve]
        label = f"IDM equilibrium, {name} T"
        ax_q.plot(k, [c["flow_veh_h_lane"] for c in curve], "k" + styles[name], lw=1, label=label)
        ax_v.plot(k, [c["speed_mps"] for c in curve], "k" + styles[name], lw=1, label=label)
    k = [p["density_mean"] for p in points]
    ax_q.plot(k, [p["flow_veh_h_lane"] for p in points], "o", color="tab:blue", label="simulated")
    ax_v.plot(k, [p["mean_speed_mps"] for p in points], "o", color="tab:blue", label="simulated")
    ax_q.set(xlabel="density (veh/km/lane)", ylabel="flow (veh/h/lane)", xlim=(0, 70))
    ax_v.set(xlabel="density (veh/km/lane)", ylabel="space-mean speed (m/s)", xlim=(0, 70))
    ax_q.set_title("Flow against density")
    ax_v.set_title("Speed against density")
    for ax in (ax_q, ax_v):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--densities", type=float, nargs="+", default=list(DENSITIES))
    parser.add_argument("--lanes", type=int, default=3)
    parser.add_argument("--envs", type=int, default=24)
    parser.add_argument("--duration-s", type=float, default=240.0)
    parser.add_argument("--warmup-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--png", type=Path, default=Path("runs/fundamental_diagram.png"))
    args = parser.parse_args(argv)
    points = []
    started = time.perf_counter()
    for density in args.densities:
        params = measurement_params(density, args.duration_s, args.lanes)
        points.append(measure(params, args.envs, args.seed, args.warmup_s))
        p = points[-1]
        print(
            f"density {density:5.1f}: measured {p['density_mean']:6.2f} veh/km/lane, "
            f"flow {p['flow_veh_h_lane']:7.1f} veh/h/lane, speed {p['mean_speed_mps']:5.2f} m/s "
            f"({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    base = measurement_params(args.densities[0], args.duration_s, args.lanes)
    theory = {
        "mean": idm_equilibrium(
            base, 0.5 * (base.traffic_headway_min_s + base.traffic_headway_max_s)
        ),
        "lowest": idm_equilibrium(base, base.traffic_headway_min_s),
        "highest": idm_equilibrium(base, base.traffic_headway_max_s),
    }
    plot(points, theory, args.png)
    best = max(points, key=lambda p: p["flow_veh_h_lane"])
    peak = max(theory["mean"], key=lambda c: c["flow_veh_h_lane"])
    print(
        json.dumps(
            {
                "lanes": args.lanes,
                "envs": args.envs,
                "duration_s": args.duration_s,
                "warmup_s": args.warmup_s,
                "points": points,
                "capacity_veh_h_lane": best["flow_veh_h_lane"],
                "capacity_density": best["density_mean"],
                "idm_capacity_veh_h_lane": peak["flow_veh_h_lane"],
                "idm_critical_density": peak["density"],
                "idm_equilibrium": theory["mean"],
                "png": str(args.png),
            }
        )
    )


if __name__ == "__main__":
    main()
