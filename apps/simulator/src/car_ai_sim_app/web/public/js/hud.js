// The heads-up panel beside the road: speed and target, what the car is doing and why, the
// mission, the exit, the supervisor's interventions, the driver and the model.
const REASONS = {
  lane_limit: "no lane there",
  unsafe_gap: "no safe gap",
  emergency_brake: "emergency brake",
  rear_guard: "eased braking (car behind)",
};
const STATUS_WORDS = { pending: "in progress", succeeded: "done", failed: "failed" };
const MAX_EVENTS = 6;
const DRIVE_ENDS = {
  exited: "Took the exit — new drive",
  collision: "Collision — new drive",
  time_limit: "Time limit — new drive",
};

function $(id) {
  return document.getElementById(id);
}

export function reasonText(name) {
  return REASONS[name] || name;
}

export function driveBanner(reason) {
  return DRIVE_ENDS[reason] || "New drive";
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
    return lane === target ? `${lane + 1} of ${n}` : `${lane + 1} → ${target + 1} of ${n}`;
  }

  update(frame) {
    $("hud-speed").textContent = frame.ego.speed_kmh.toFixed(0);
    $("hud-target").textContent = frame.mission.target_speed_kmh.toFixed(0);
    $("hud-lane").textContent = this.laneText(frame.ego.lane, frame.ego.target_lane);
    const explain = $("hud-explain");
    explain.textContent = frame.explain.text;
    explain.className = `explain ${frame.explain.code}`;
    const mission = frame.mission;
    $("hud-mission").textContent = mission.text || mission.kind;
    const status = $("hud-mission-status");
    let word = STATUS_WORDS[mission.status] || mission.status;
    if (mission.kind === "cruise" && mission.status === "succeeded" && frame.explain.code === "following") {
      word = "held by a slower car";
    }
    status.textContent = word;
    status.className = `status ${mission.status}`;
    const d = frame.exit.distance_m;
    $("hud-exit").textContent =
      d > 0 ? `zone in ${Math.round(d)} m` : d > -frame.exit.ramp_length_m ? "zone now" : "passed";
    const counters = frame.counters;
    $("hud-interventions").textContent = String(counters.interventions);
    $("hud-late").textContent = String(counters.late_answers);
    $("hud-time").textContent = frame.t_s.toFixed(1);
    $("hud-drive").textContent = `#${frame.drive}`;
    const step = frame.supervisor || {};
    if (step.intervened) $("hud-reasons").textContent = `— last: ${step.reasons.map(reasonText).join(", ")}`;
    for (const event of frame.events || []) this.note(frame, event);
  }

  note(frame, event) {
    let text = null;
    let cls = "";
    if (event === "intervention") {
      text = frame.explain.code === "supervisor" ? frame.explain.text : "safety supervisor stepped in";
      cls = "intervention";
    } else if (event === "collision") {
      text = frame.events.includes("at_fault") ? "collision (at fault)" : "collision (not at fault)";
      cls = "collision";
    } else if (event === "mission_success") {
      text = `done: ${frame.mission.text}`;
      cls = "good";
    } else if (event === "mission_failure") {
      text = "mission failed";
      cls = "collision";
    } else if (event === "drive_started") {
      text = frame.drive_reason ? driveBanner(frame.drive_reason) : "new drive";
    }
    if (!text) return;
    this.events.unshift({ text: `${frame.t_s.toFixed(1)} s · ${text}`, cls });
    this.events.length = Math.min(this.events.length, MAX_EVENTS);
    $("hud-events").replaceChildren(
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
