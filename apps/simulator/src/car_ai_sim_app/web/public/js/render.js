// Top-down canvas view: the road, the exit ramp, the traffic and the ego. Frames arrive at the
// tick rate; drawing runs every animation frame, interpolating between the last two frames.
const TRAFFIC_COLORS = ["#c9ccd1", "#d66b5c", "#e0b84a", "#7fb069", "#9b8ec9", "#5fb3c6", "#e08fb0"];
const EGO_COLOR = "#3d8bff";
const JUMP_M = 30; // a recycled vehicle moves further than this between frames: no interpolation

function lerp(a, b, t) {
  return a + (b - a) * t;
}

export class Renderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.road = { n_lanes: 3, lane_width_m: 4, exit_ramp_length_m: 160 };
    this.periodMs = 200;
    this.prev = null;
    this.curr = null;
    this.flash = { intervention: 0, collision: 0 };
    this.fps = 0;
    this._frames = 0;
    this._fpsStamp = performance.now();
  }

  setRoad(road, tickHz) {
    this.road = road;
    this.periodMs = 1000 / tickHz;
  }

  push(frame) {
    const now = performance.now();
    const sameDrive = this.curr && this.curr.frame.drive === frame.drive;
    this.prev = sameDrive ? this.curr : null;
    this.curr = { frame, t: now };
    const step = frame.supervisor || {};
    if (step.intervened) this.flash.intervention = now;
    if ((step.events || []).some((e) => e.startsWith("collision"))) this.flash.collision = now;
  }

  start() {
    const loop = (now) => {
      this.draw(now);
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(this.canvas.clientWidth * dpr);
    const h = Math.round(this.canvas.clientHeight * dpr);
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
  }

  // Interpolated ego and vehicles for time `now`.
  scene(now) {
    const curr = this.curr.frame;
    const prev = this.prev && this.prev.frame;
    const t = prev ? Math.min(1, Math.max(0, (now - this.curr.t) / this.periodMs)) : 1;
    const ego = { ...curr.ego };
    if (prev) {
      ego.x_m = lerp(prev.ego.x_m, curr.ego.x_m, t);
      ego.y_m = lerp(prev.ego.y_m, curr.ego.y_m, t);
    }
    const before = new Map();
    if (prev) for (const v of prev.vehicles) before.set(v[0], v);
    const vehicles = curr.vehicles.map((v) => {
      const p = before.get(v[0]);
      if (!p || Math.abs(p[1] - v[1]) > JUMP_M) return v;
      return [v[0], lerp(p[1], v[1], t), lerp(p[2], v[2], t), v[3], v[4], v[5]];
    });
    return { ego, vehicles, frame: curr };
  }

  draw(now) {
    this._frames += 1;
    if (now - this._fpsStamp >= 1000) {
      this.fps = (this._frames * 1000) / (now - this._fpsStamp);
      this._frames = 0;
      this._fpsStamp = now;
    }
    this.resize();
    const { ctx, canvas } = this;
    const W = canvas.width;
    const H = canvas.height;
    ctx.fillStyle = "#2c5a2e";
    ctx.fillRect(0, 0, W, H);
    if (!this.curr) return;
    const { ego, vehicles, frame } = this.scene(now);
    const lw = this.road.lane_width_m;
    const n = this.road.n_lanes;
    const scale = Math.min((H * 0.5) / ((n + 1.6) * lw), W / 70);
    const egoScreenX = W * 0.32;
    const roadTop = H * 0.12;
    const sx = (x) => egoScreenX + (x - ego.x_m) * scale;
    const sy = (y) => roadTop + (y + lw / 2) * scale;
    const viewMin = ego.x_m - egoScreenX / scale;
    const viewMax = viewMin + W / scale;

    this.drawRoad(ctx, frame, sx, sy, scale, viewMin, viewMax, W);
    vehicles.forEach((v) => {
      const color = TRAFFIC_COLORS[Math.round(v[0]) % TRAFFIC_COLORS.length];
      this.drawCar(ctx, sx(v[1]), sy(v[2]), v[3] * scale, v[4] * scale, color, null);
    });
    const glow = now - this.flash.intervention < 700 ? "#ffb020" : null;
    this.drawCar(ctx, sx(ego.x_m), sy(ego.y_m), ego.length_m * scale, ego.width_m * scale, EGO_COLOR, glow);
    this.drawExitSign(ctx, frame, W);
    if (now - this.flash.collision < 900) {
      ctx.fillStyle = "rgba(255, 60, 60, 0.25)";
      ctx.fillRect(0, 0, W, H);
    }
  }

  drawRoad(ctx, frame, sx, sy, scale, viewMin, viewMax, W) {
    const lw = this.road.lane_width_m;
    const n = this.road.n_lanes;
    const top = sy(-lw / 2);
    const bottom = sy((n - 0.5) * lw);
    ctx.fillStyle = "#44484e";
    ctx.fillRect(0, top - 0.4 * scale, W, bottom - top + 0.8 * scale);

    // exit ramp: a lane under the rightmost lane along the diverge zone, then bending away
    const ex = frame.exit.x_m;
    const ramp = frame.exit.ramp_length_m;
    const rampTop = bottom;
    const rampBottom = sy((n + 0.5) * lw);
    if (ex + ramp + 200 > viewMin && ex - 60 < viewMax) {
      ctx.fillStyle = "#44484e";
      ctx.beginPath();
      ctx.moveTo(sx(ex - 40), rampTop);
      ctx.lineTo(sx(ex), rampBottom);
      ctx.lineTo(sx(ex + ramp), rampBottom);
      ctx.lineTo(sx(ex + ramp + 120), rampBottom + 40 * scale);
      ctx.lineTo(sx(ex + ramp + 120) + lw * scale, rampBottom + 40 * scale - lw * scale * 0.6);
      ctx.lineTo(sx(ex + ramp) + lw * scale * 1.2, rampTop);
      ctx.closePath();
      ctx.fill();
      ctx.strokeStyle = "#f2f2f2";
      ctx.lineWidth = Math.max(1, 0.15 * scale);
      ctx.setLineDash([]);
      ctx.beginPath();
      ctx.moveTo(sx(ex - 40), rampTop);
      ctx.lineTo(sx(ex), rampBottom);
      ctx.lineTo(sx(ex + ramp), rampBottom);
      ctx.lineTo(sx(ex + ramp + 120), rampBottom + 40 * scale);
      ctx.stroke();
      ctx.fillStyle = "rgba(76, 214, 138, 0.18)";
      ctx.fillRect(sx(ex), rampTop, ramp * scale, rampBottom - rampTop);
    }

    // edges and lane markings; the dashes move with the road
    ctx.strokeStyle = "#f2f2f2";
    ctx.lineWidth = Math.max(1, 0.15 * scale);
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.moveTo(0, top);
    ctx.lineTo(W, top);
    ctx.stroke();
    const dash = [3 * scale, 9 * scale];
    const offset = (viewMin * scale) % (12 * scale);
    for (let k = 1; k < n; k += 1) {
      const y = sy((k - 0.5) * lw);
      ctx.setLineDash(dash);
      ctx.lineDashOffset = offset;
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(W, y);
      ctx.stroke();
    }
    // the right edge is solid except along the diverge zone
    ctx.setLineDash([]);
    ctx.beginPath();
    const zoneStart = Math.max(0, sx(ex));
    const zoneEnd = Math.min(W, sx(ex + ramp));
    if (zoneEnd > 0 && zoneStart < W && zoneEnd > zoneStart) {
      ctx.moveTo(0, bottom);
      ctx.lineTo(zoneStart, bottom);
      ctx.moveTo(zoneEnd, bottom);
      ctx.lineTo(W, bottom);
      ctx.stroke();
      ctx.setLineDash(dash);
      ctx.lineDashOffset = offset;
      ctx.beginPath();
      ctx.moveTo(zoneStart, bottom);
      ctx.lineTo(zoneEnd, bottom);
    } else {
      ctx.moveTo(0, bottom);
      ctx.lineTo(W, bottom);
    }
    ctx.stroke();
    ctx.setLineDash([]);

    // distance posts every 100 m
    ctx.fillStyle = "rgba(255,255,255,0.55)";
    ctx.font = `${Math.round(11 * (window.devicePixelRatio || 1))}px system-ui, sans-serif`;
    for (let x = Math.ceil(viewMin / 100) * 100; x < viewMax; x += 100) {
      ctx.fillRect(sx(x) - 1, top - 1.6 * scale, 2, 1.2 * scale);
      ctx.fillText(`${(x / 1000).toFixed(1)} km`, sx(x) + 3, top - 0.6 * scale);
    }
  }

  drawCar(ctx, x, y, length, width, color, glow) {
    ctx.save();
    ctx.translate(x, y);
    if (glow) {
      ctx.shadowColor = glow;
      ctx.shadowBlur = 18;
    }
    ctx.fillStyle = color;
    const r = Math.min(width, length) * 0.25;
    ctx.beginPath();
    ctx.roundRect(-length / 2, -width / 2, length, width, r);
    ctx.fill();
    ctx.shadowBlur = 0;
    ctx.fillStyle = "rgba(20, 30, 40, 0.55)";
    ctx.fillRect(length * 0.08, -width * 0.38, length * 0.22, width * 0.76);
    if (glow) {
      ctx.strokeStyle = glow;
      ctx.lineWidth = 2;
      ctx.stroke();
    }
    ctx.restore();
  }

  drawExitSign(ctx, frame, W) {
    const d = frame.exit.distance_m;
    if (d < -frame.exit.ramp_length_m) return;
    const text = d > 0 ? `EXIT ${Math.round(d)} m` : "EXIT ▸ now";
    ctx.font = "bold 16px system-ui, sans-serif";
    const w = ctx.measureText(text).width + 20;
    ctx.fillStyle = frame.mission.kind === "exit" ? "#1f8a4c" : "#2a6e45";
    ctx.fillRect(W - w - 12, 12, w, 30);
    ctx.fillStyle = "#ffffff";
    ctx.fillText(text, W - w - 2, 33);
  }
}
