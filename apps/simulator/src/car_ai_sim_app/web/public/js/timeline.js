// The last two tick frames and the scene between them. Frames arrive at the tick rate (5 Hz);
// views draw every animation frame, one tick behind, interpolating positions and deriving each
// vehicle's heading from its motion. Both the top-down and the 3D view read this.
const JUMP_M = 30; // a recycled vehicle moves further than this between frames: no interpolation
export const FOCUS_MS = 1600; // how long the supervisor's reason stays drawn

function lerp(a, b, t) {
  return a + (b - a) * t;
}

function heading(prev, curr) {
  if (!prev) return 0;
  const dx = curr.x_m - prev.x_m;
  const dy = curr.y_m - prev.y_m;
  if (Math.abs(dx) < 0.05) return 0;
  return Math.atan2(dy, dx);
}

export class Timeline {
  constructor() {
    this.prev = null;
    this.curr = null;
    this.periodMs = 200;
    this.focus = null; // {items, t}
    this.collisionAt = -1e9;
    this.interventionAt = -1e9;
  }

  setRate(tickHz) {
    this.periodMs = 1000 / tickHz;
  }

  push(frame) {
    const now = performance.now();
    const sameDrive = this.curr && this.curr.frame.drive === frame.drive;
    this.prev = sameDrive ? this.curr : null;
    this.curr = { frame, t: now };
    const step = frame.supervisor || {};
    if (step.intervened) {
      this.interventionAt = now;
      if (step.focus && step.focus.length) this.focus = { items: step.focus, t: now };
    }
    if ((frame.events || []).some((e) => e === "collision")) this.collisionAt = now;
  }

  // The interpolated scene at time `now`, or null before the first frame.
  at(now) {
    if (!this.curr) return null;
    const curr = this.curr.frame;
    const prev = this.prev && this.prev.frame;
    const t = prev ? Math.min(1, Math.max(0, (now - this.curr.t) / this.periodMs)) : 1;
    const ego = { ...curr.ego, heading: prev ? heading(prev.ego, curr.ego) : 0 };
    if (prev) {
      ego.x_m = lerp(prev.ego.x_m, curr.ego.x_m, t);
      ego.y_m = lerp(prev.ego.y_m, curr.ego.y_m, t);
      ego.speed_kmh = lerp(prev.ego.speed_kmh, curr.ego.speed_kmh, t);
    }
    const before = new Map();
    if (prev) for (const v of prev.vehicles) before.set(v.id, v);
    const vehicles = curr.vehicles.map((v) => {
      const p = before.get(v.id);
      if (!p || Math.abs(p.x_m - v.x_m) > JUMP_M) return { ...v, heading: 0 };
      return { ...v, x_m: lerp(p.x_m, v.x_m, t), y_m: lerp(p.y_m, v.y_m, t), heading: heading(p, v) };
    });
    const focus = this.focus && now - this.focus.t < FOCUS_MS ? this.focus.items : [];
    return {
      ego,
      vehicles,
      frame: curr,
      focus,
      flash: now - this.interventionAt < 700,
      crashed: now - this.collisionAt < 900,
    };
  }
}

// The vehicle ids the supervisor's focus names, with the text to draw by each.
export function focusMarks(items) {
  const marks = new Map();
  for (const item of items) {
    for (const role of ["leader", "follower"]) {
      const v = item[role];
      if (!v) continue;
      const closing = v.closing_kmh > 0 ? `closing ${v.closing_kmh} km/h` : `${Math.round(v.gap_m)} m`;
      marks.set(v.id, { reason: item.reason, text: closing, role });
    }
  }
  return marks;
}
