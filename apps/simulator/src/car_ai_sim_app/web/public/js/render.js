// Top-down canvas view: the road, the exit ramp, the traffic, the ego, and what made the
// supervisor step in (the blocked gap, or the vehicle closing in, with its closing speed).
import { focusMarks } from "./timeline.js";

const TRAFFIC_COLORS = ["#c9ccd1", "#d66b5c", "#e0b84a", "#7fb069", "#9b8ec9", "#5fb3c6", "#e08fb0"];
const EGO_COLOR = "#3d8bff";
const ALERT = "#ff4d4d";

export class Renderer {
  constructor(canvas, timeline) {
    this.canvas = canvas;
    this.timeline = timeline;
    this.ctx = canvas.getContext("2d");
    this.road = { n_lanes: 3, lane_width_m: 4, exit_ramp_length_m: 160 };
    this.fps = 0;
    this.enabled = true;
    this._frames = 0;
    this._fpsStamp = performance.now();
  }

  setRoad(road) {
    this.road = road;
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(this.canvas.clientWidth * dpr);
    const h = Math.round(this.canvas.clientHeight * dpr);
    if (w > 0 && h > 0 && (this.canvas.width !== w || this.canvas.height !== h)) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
  }

  draw(now) {
    if (!this.enabled) return;
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
    const dpr = window.devicePixelRatio || 1;
    ctx.fillStyle = "#2c5a2e";
    ctx.fillRect(0, 0, W, H);
    const scene = this.timeline.at(now);
    if (!scene) return;
    const { ego, vehicles, frame, focus } = scene;
    const lw = this.road.lane_width_m;
    const n = this.road.n_lanes;
    // the road and the ramp (about n + 4 lane widths with its taper) fit the height
    const scale = Math.min(H / ((n + 4.5) * lw), W / 60);
    const egoScreenX = W * 0.3;
    const roadTop = (H - (n + 2.5) * lw * scale) / 2;
    const sx = (x) => egoScreenX + (x - ego.x_m) * scale;
    const sy = (y) => roadTop + (y + lw / 2) * scale;
    const viewMin = ego.x_m - egoScreenX / scale;
    const viewMax = viewMin + W / scale;

    this.drawRoad(ctx, frame, sx, sy, scale, viewMin, viewMax, W);
    const marks = focusMarks(focus);
    this.drawFocusLanes(ctx, focus, ego, sx, sy, scale, W);
    for (const v of vehicles) {
      const color = TRAFFIC_COLORS[Math.round(v.id) % TRAFFIC_COLORS.length];
      const mark = marks.get(Math.round(v.id));
      this.drawCar(ctx, sx(v.x_m), sy(v.y_m), v.length_m * scale, v.width_m * scale, v.heading, color, mark ? ALERT : null);
      if (mark) this.label(ctx, sx(v.x_m), sy(v.y_m) - v.width_m * scale, mark.text, dpr);
    }
    const glow = scene.flash ? "#ffb020" : null;
    this.drawCar(ctx, sx(ego.x_m), sy(ego.y_m), ego.length_m * scale, ego.width_m * scale, ego.heading, EGO_COLOR, glow);
    this.drawExitSign(ctx, frame, W, dpr);
    if (scene.crashed) {
      ctx.fillStyle = "rgba(255, 60, 60, 0.25)";
      ctx.fillRect(0, 0, W, H);
    }
  }

  // The lane a refused change wanted (blocked gap between the two vehicles that close it), or
  // the missing lane the request pointed at.
  drawFocusLanes(ctx, focus, ego, sx, sy, scale, W) {
    const lw = this.road.lane_width_m;
    for (const item of focus) {
      if (item.reason === "unsafe_gap") {
        const top = sy((item.lane - 0.5) * lw);
        const from = item.follower ? sx(ego.x_m - item.follower.gap_m - ego.length_m / 2) : sx(ego.x_m - 40);
        const to = item.leader ? sx(ego.x_m + item.leader.gap_m + ego.length_m / 2) : sx(ego.x_m + 40);
        ctx.fillStyle = "rgba(255, 77, 77, 0.28)";
        ctx.fillRect(Math.max(0, from), top, Math.min(W, to) - Math.max(0, from), lw * scale);
        ctx.strokeStyle = ALERT;
        ctx.lineWidth = 2;
        ctx.setLineDash([6, 4]);
        ctx.strokeRect(Math.max(0, from), top, Math.min(W, to) - Math.max(0, from), lw * scale);
        ctx.setLineDash([]);
      } else if (item.reason === "lane_limit") {
        const y = item.lane < 0 ? sy(-lw / 2) : sy((this.road.n_lanes - 0.5) * lw);
        ctx.strokeStyle = ALERT;
        ctx.lineWidth = 4;
        ctx.beginPath();
        ctx.moveTo(sx(ego.x_m - 12), y);
        ctx.lineTo(sx(ego.x_m + 12), y);
        ctx.stroke();
      }
    }
  }

  label(ctx, x, y, text, dpr) {
    ctx.font = `600 ${Math.round(12 * dpr)}px system-ui, sans-serif`;
    const w = ctx.measureText(text).width + 10 * dpr;
    const h = 18 * dpr;
    ctx.fillStyle = "rgba(120, 10, 10, 0.9)";
    ctx.fillRect(x - w / 2, y - h - 4 * dpr, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x - w / 2 + 5 * dpr, y - 8 * dpr);
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

  drawCar(ctx, x, y, length, width, headingRad, color, glow) {
    ctx.save();
    ctx.translate(x, y);
    ctx.rotate(headingRad || 0);
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

  drawExitSign(ctx, frame, W, dpr) {
    const d = frame.exit.distance_m;
    if (d < -frame.exit.ramp_length_m) return;
    const text = d > 0 ? `EXIT ${Math.round(d)} m` : "EXIT ▸ now";
    ctx.font = `bold ${Math.round(15 * dpr)}px system-ui, sans-serif`;
    const w = ctx.measureText(text).width + 20 * dpr;
    ctx.fillStyle = frame.mission.kind === "exit" ? "#1f8a4c" : "#2a6e45";
    ctx.fillRect(W - w - 10 * dpr, 10 * dpr, w, 28 * dpr);
    ctx.fillStyle = "#ffffff";
    ctx.fillText(text, W - w, 29 * dpr);
  }
}
