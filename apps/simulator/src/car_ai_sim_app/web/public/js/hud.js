// The heads-up display: speed, lane, mission, supervisor interventions and the model version.
const REASONS = {
  lane_limit: "no lane there",
  unsafe_gap: "unsafe gap",
  emergency_brake: "emergency brake",
  rear_guard: "eased braking (car behind)",
};
const MAX_EVENTS = 6;

function $(id) {
  return document.getElementById(id);
}

export function reasonText(name) {
  return REASONS[name] || name;
}

export class Hud {
  constructor() {
    this.road = { n_lanes: 3 };
    this.events = [];
  }

  setRoad(road) {
    this.road = road;
  }

  laneText(lane, target) {
    const n = this.road.n_lanes;
    if (lane >= n || target >= n) return "exit ramp";
    const words = (k) => `${k + 1}${k === 0 ? " (leftmost)" : k === n - 1 ? " (rightmost)" : ""}`;
    return lane === target ? `${words(lane)} of ${n}` : `${words(lane)} → ${target + 1} of ${n}`;
  }

  update(frame) {
    $("hud-speed").textContent = frame.ego.speed_kmh.toFixed(0);
    $("hud-lane").textContent = this.laneText(frame.ego.lane, frame.ego.target_lane);
    const mission = frame.mission;
    $("hud-mission").textContent = mission.text || mission.kind;
    const status = $("hud-mission-status");
    status.textContent = mission.status;
    status.className = `status ${mission.status}`;
    const d = frame.exit.distance_m;
    $("hud-exit").textContent = d > 0 ? `zone in ${Math.round(d)} m` : d > -frame.exit.ramp_length_m ? "zone now" : "passed";
    const counters = frame.counters;
    $("hud-interventions").textContent = String(counters.interventions);
    $("hud-late").textContent = String(counters.late_answers);
    $("hud-time").textContent = frame.t_s.toFixed(1);
    const step = frame.supervisor || {};
    const reasons = step.intervened ? step.reasons.map(reasonText).join(", ") : "";
    if (reasons) $("hud-reasons").textContent = `— ${reasons}`;
    for (const event of step.events || []) this.note(frame, event, step);
  }

  note(frame, event, step) {
    let text = null;
    let cls = "";
    if (event === "intervention") {
      text = `supervisor: ${step.reasons.map(reasonText).join(", ")}`;
      cls = "intervention";
    } else if (event.startsWith("collision")) {
      text = event === "collision_at_fault" ? "collision (at fault)" : "collision (not at fault)";
      cls = "collision";
    } else if (event === "mission_succeeded" || event === "mission_failed") {
      text = event.replace("_", " ");
    } else if (event === "exited" || event === "drive_started") {
      text = event === "exited" ? "left on the exit ramp" : "new drive";
    }
    if (!text) return;
    this.events.unshift({ text: `${frame.t_s.toFixed(1)} s ${text}`, cls });
    this.events.length = Math.min(this.events.length, MAX_EVENTS);
    const list = $("hud-events");
    list.replaceChildren(
      ...this.events.map((e) => {
        const li = document.createElement("li");
        li.textContent = e.text;
        if (e.cls) li.className = e.cls;
        return li;
      }),
    );
  }

  setModel(text) {
    $("hud-model").textContent = text;
  }

  setDriver(text) {
    $("hud-driver").textContent = text;
  }

  setMission(text) {
    $("hud-mission").textContent = text;
  }
}
