// The driver's view: a chase camera behind the ego, drawn with three.js (served from npm by the
// backend). Simulator x (forward) maps to -z, y (right) to +x; everything is placed relative to
// the ego every animation frame, so positions stay small and the road seems endless.
import * as THREE from "/vendor/three/three.module.js";
import { focusMarks } from "./timeline.js";

const TRAFFIC_COLORS = [0xc9ccd1, 0xd66b5c, 0xe0b84a, 0x7fb069, 0x9b8ec9, 0x5fb3c6, 0xe08fb0];
const EGO_COLOR = 0x3d8bff;
const ALERT = 0xff4d4d;
const DASH_M = 3;
const DASH_PERIOD_M = 12;
const VIEW_BEHIND_M = 60;
const VIEW_AHEAD_M = 320;
const HFOV_DEG = 80;

function box(w, h, d, color) {
  return new THREE.Mesh(new THREE.BoxGeometry(w, h, d), new THREE.MeshLambertMaterial({ color }));
}

// A car: a body and a darker cabin, sized by the vehicle's length and width.
function carMesh(color) {
  const group = new THREE.Group();
  const body = box(1, 0.75, 1, color);
  body.position.y = 0.5;
  const cabin = box(0.82, 0.5, 0.46, 0x2a3440);
  cabin.position.set(0, 1.1, 0.06);
  const outline = new THREE.Mesh(
    new THREE.BoxGeometry(1.15, 1.9, 1.1),
    new THREE.MeshBasicMaterial({ color: ALERT, wireframe: true }),
  );
  outline.position.y = 0.9;
  outline.visible = false;
  group.add(body, cabin, outline);
  group.userData = { body, cabin, outline };
  return group;
}

function textSprite() {
  const canvas = document.createElement("canvas");
  canvas.width = 256;
  canvas.height = 64;
  const texture = new THREE.CanvasTexture(canvas);
  const sprite = new THREE.Sprite(new THREE.SpriteMaterial({ map: texture, depthTest: false }));
  sprite.scale.set(6, 1.5, 1);
  sprite.userData = { canvas, texture, text: "" };
  sprite.visible = false;
  return sprite;
}

function setSpriteText(sprite, text) {
  if (sprite.userData.text === text) return;
  const { canvas, texture } = sprite.userData;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "rgba(120, 10, 10, 0.9)";
  ctx.fillRect(0, 8, canvas.width, 48);
  ctx.fillStyle = "#fff";
  ctx.font = "600 30px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.fillText(text, canvas.width / 2, 43);
  texture.needsUpdate = true;
  sprite.userData.text = text;
}

export class DriverView {
  constructor(canvas, timeline) {
    this.canvas = canvas;
    this.timeline = timeline;
    this.enabled = false;
    this.fps = 0;
    this.frames = 0;
    this._frames = 0;
    this._fpsStamp = performance.now();
    this.road = null;
    this.error = null;
    try {
      this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    } catch (err) {
      this.renderer = null;
      this.error = `WebGL is not available: ${err.message || err}`;
      return;
    }
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x9cc4e4);
    this.scene.fog = new THREE.Fog(0x9cc4e4, 120, VIEW_AHEAD_M);
    this.camera = new THREE.PerspectiveCamera(60, 2, 0.5, 600);
    this.scene.add(new THREE.HemisphereLight(0xeef6ff, 0x3a5a2a, 1.6));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    sun.position.set(-30, 60, 20);
    this.scene.add(sun);
    const grass = new THREE.Mesh(
      new THREE.PlaneGeometry(2000, 2000),
      new THREE.MeshLambertMaterial({ color: 0x4c7a3c }),
    );
    grass.rotation.x = -Math.PI / 2;
    grass.position.y = -0.02;
    this.scene.add(grass);
    this.cars = new Map(); // vehicle id -> mesh
    this.ego = carMesh(EGO_COLOR);
    this.scene.add(this.ego);
    this.labels = [textSprite(), textSprite(), textSprite()];
    for (const label of this.labels) this.scene.add(label);
    this.gapBox = new THREE.Mesh(
      new THREE.BoxGeometry(1, 0.06, 1),
      new THREE.MeshBasicMaterial({ color: ALERT, transparent: true, opacity: 0.45 }),
    );
    this.gapBox.visible = false;
    this.scene.add(this.gapBox);
  }

  get available() {
    return this.renderer !== null;
  }

  // The static road: asphalt, solid edges, dashed lane lines (moved by the dash period), the
  // exit ramp's lane and its taper.
  buildRoad(road) {
    if (this.roadGroup) this.scene.remove(this.roadGroup);
    this.road = road;
    const lw = road.lane_width_m;
    const n = road.n_lanes;
    const length = VIEW_AHEAD_M + VIEW_BEHIND_M;
    const group = new THREE.Group();
    const asphalt = new THREE.Mesh(
      new THREE.PlaneGeometry(n * lw + 1.2, length),
      new THREE.MeshLambertMaterial({ color: 0x45494f }),
    );
    asphalt.rotation.x = -Math.PI / 2;
    asphalt.position.set((n - 1) * lw * 0.5, 0, -(VIEW_AHEAD_M - VIEW_BEHIND_M) / 2);
    group.add(asphalt);
    const white = new THREE.MeshBasicMaterial({ color: 0xf2f2f2 });
    for (const side of [-0.5, n - 0.5]) {
      const edge = new THREE.Mesh(new THREE.BoxGeometry(0.2, 0.02, length), white);
      edge.position.set(side * lw, 0.01, -(VIEW_AHEAD_M - VIEW_BEHIND_M) / 2);
      group.add(edge);
    }
    const count = Math.ceil(length / DASH_PERIOD_M) + 1;
    this.dashes = new THREE.InstancedMesh(new THREE.BoxGeometry(0.15, 0.02, DASH_M), white, count * (n - 1));
    group.add(this.dashes);
    this.dashCount = count;
    const ramp = new THREE.Group();
    const rampMat = new THREE.MeshLambertMaterial({ color: 0x45494f });
    const zone = new THREE.Mesh(new THREE.PlaneGeometry(lw, road.exit_ramp_length_m), rampMat);
    zone.rotation.x = -Math.PI / 2;
    zone.position.set(n * lw, 0.001, -road.exit_ramp_length_m / 2);
    const tint = new THREE.Mesh(
      new THREE.PlaneGeometry(lw, road.exit_ramp_length_m),
      new THREE.MeshBasicMaterial({ color: 0x4cd68a, transparent: true, opacity: 0.22 }),
    );
    tint.rotation.x = -Math.PI / 2;
    tint.position.set(n * lw, 0.004, -road.exit_ramp_length_m / 2);
    const away = new THREE.Mesh(new THREE.PlaneGeometry(lw, 130), rampMat);
    away.rotation.x = -Math.PI / 2;
    away.rotation.z = -0.32;
    away.position.set(n * lw + 20, 0.002, -road.exit_ramp_length_m - 62);
    ramp.add(zone, tint, away);
    group.add(ramp);
    this.ramp = ramp;
    this.roadGroup = group;
    this.scene.add(group);
  }

  place(mesh, v, egoX) {
    mesh.position.set(v.y_m, 0, -(v.x_m - egoX));
    mesh.rotation.y = -(v.heading || 0);
    const { body, cabin, outline } = mesh.userData;
    body.scale.set(v.width_m, 1, v.length_m);
    cabin.scale.set(v.width_m, 1, v.length_m);
    outline.scale.set(v.width_m, 1, v.length_m);
  }

  resize() {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (w === 0 || h === 0) return false;
    const size = this.renderer.getSize(new THREE.Vector2());
    if (size.x !== w || size.y !== h) {
      this.renderer.setSize(w, h, false);
      // a horizontal field of view of about 80 degrees whatever the canvas's shape
      const aspect = w / h;
      const fov = (2 * Math.atan(Math.tan((HFOV_DEG * Math.PI) / 360) / aspect) * 180) / Math.PI;
      this.camera.fov = Math.min(70, Math.max(28, fov));
      this.camera.aspect = aspect;
      this.camera.updateProjectionMatrix();
    }
    return true;
  }

  draw(now) {
    if (!this.enabled || !this.renderer || !this.resize()) return;
    const scene = this.timeline.at(now);
    if (!scene || !this.road) return;
    this._frames += 1;
    this.frames += 1;
    if (now - this._fpsStamp >= 1000) {
      this.fps = (this._frames * 1000) / (now - this._fpsStamp);
      this._frames = 0;
      this._fpsStamp = now;
    }
    const { ego, vehicles, frame, focus } = scene;
    const lw = this.road.lane_width_m;
    const n = this.road.n_lanes;
    // dashes: lane lines every DASH_PERIOD_M, shifted with the ego's position
    const shift = ego.x_m % DASH_PERIOD_M;
    const m = new THREE.Matrix4();
    let k = 0;
    for (let lane = 1; lane < n; lane += 1) {
      for (let i = 0; i < this.dashCount; i += 1) {
        const along = -VIEW_BEHIND_M + i * DASH_PERIOD_M - shift;
        m.makeTranslation((lane - 0.5) * lw, 0.01, -along);
        this.dashes.setMatrixAt(k, m);
        k += 1;
      }
    }
    this.dashes.instanceMatrix.needsUpdate = true;
    const exitAhead = frame.exit.x_m - ego.x_m;
    this.ramp.position.z = -exitAhead;
    this.ramp.visible = exitAhead < VIEW_AHEAD_M && exitAhead > -(this.road.exit_ramp_length_m + 200);

    const marks = focusMarks(focus);
    const seen = new Set();
    let label = 0;
    for (const v of vehicles) {
      const id = Math.round(v.id);
      seen.add(id);
      let mesh = this.cars.get(id);
      if (!mesh) {
        mesh = carMesh(TRAFFIC_COLORS[id % TRAFFIC_COLORS.length]);
        this.cars.set(id, mesh);
        this.scene.add(mesh);
      }
      mesh.visible = v.x_m - ego.x_m < VIEW_AHEAD_M && v.x_m - ego.x_m > -VIEW_BEHIND_M;
      this.place(mesh, v, ego.x_m);
      const mark = marks.get(id);
      mesh.userData.outline.visible = Boolean(mark);
      if (mark && label < this.labels.length) {
        const sprite = this.labels[label];
        label += 1;
        setSpriteText(sprite, mark.text);
        sprite.position.set(v.y_m, 3.2, -(v.x_m - ego.x_m));
        sprite.visible = true;
      }
    }
    for (let i = label; i < this.labels.length; i += 1) this.labels[i].visible = false;
    for (const [id, mesh] of this.cars) if (!seen.has(id)) mesh.visible = false;
    this.place(this.ego, ego, ego.x_m);
    this.ego.userData.outline.visible = scene.flash;
    const gap = focus.find((item) => item.reason === "unsafe_gap");
    this.gapBox.visible = Boolean(gap);
    if (gap) {
      const behind = gap.follower ? gap.follower.gap_m + ego.length_m / 2 : 30;
      const ahead = gap.leader ? gap.leader.gap_m + ego.length_m / 2 : 30;
      this.gapBox.scale.set(lw * 0.9, 1, behind + ahead);
      this.gapBox.position.set(gap.lane * lw, 0.03, -(ahead - behind) / 2);
    }
    // the chase camera: behind and above the ego, looking down the road
    const cam = this.camera;
    cam.position.set(ego.y_m * 0.85 + (n - 1) * lw * 0.075, 4.4, 12.5);
    cam.lookAt(ego.y_m * 0.9 + (n - 1) * lw * 0.05, 0.4, -40);
    this.renderer.render(this.scene, this.camera);
  }

  // Share of sampled pixels that differ from the sky: a blank canvas gives 0.
  painted() {
    if (!this.renderer) return 0;
    const gl = this.renderer.getContext();
    const w = gl.drawingBufferWidth;
    const h = gl.drawingBufferHeight;
    const pixels = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    const colors = new Set();
    let differ = 0;
    let samples = 0;
    for (let i = 0; i < pixels.length; i += 4 * 97) {
      samples += 1;
      colors.add((pixels[i] >> 4) * 256 + (pixels[i + 1] >> 4) * 16 + (pixels[i + 2] >> 4));
      if (Math.abs(pixels[i] - 0x9c) + Math.abs(pixels[i + 1] - 0xc4) + Math.abs(pixels[i + 2] - 0xe4) > 30) differ += 1;
    }
    return { share: differ / Math.max(samples, 1), colors: colors.size, width: w, height: h };
  }
}
