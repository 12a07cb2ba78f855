// The page: connects a session, answers every frame with controls or a driving plan from the
// policy (or controls from the keyboard), draws the scene and sends typed or spoken commands.
// `window.simApp` exposes the page's state for inspection.
import { Hud, driveBanner } from "./hud.js";
import { Keyboard, Voice } from "./input.js";
import { Connection, decodeObs, decodeVehicles } from "./net.js";
import { PolicyRunner } from "./policy.js";
import { Renderer } from "./render.js";
import { Speaker } from "./speech.js";
import { Timeline } from "./timeline.js";

const BANNER_MS = 3500;

const QUIET_ERRORS = new Set(["rate_limited"]);

const app = {
  connected: false,
  sessionId: null,
  modelLoaded: false,
  modelName: null,
  modelSha256: null,
  modelError: null,
  registryVersion: null,
  autopilot: true,
  tick: 0,
  simTimeS: 0,
  frames: 0,
  collisions: 0,
  interventions: 0,
  lateAnswers: 0,
  lastSource: null,
  lastPlan: null,
  mission: null,
  lastReply: null,
  lastCommandSource: null,
  lastHeard: null,
  voiceAvailable: false,
  answered: 0,
  errors: [],
  explain: null,
  banner: null,
  view: "both",
  spoken: [],
  vehicleFields: ["id", "dx_m", "y_m", "length_m", "width_m", "speed_mps"],
};
window.simApp = app;

const $ = (id) => document.getElementById(id);
const hud = new Hud();
const timeline = new Timeline();
const renderer = new Renderer($("road"), timeline);
const speaker = new Speaker($("speech-toggle"));
app.spoken = speaker.spoken;
let driverView = null;
let missionKind = "cruise";
let bannerTimer = null;

function banner(text) {
  const el = $("banner");
  el.textContent = text;
  el.hidden = false;
  app.banner = text;
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => {
    el.hidden = true;
  }, BANNER_MS);
}

function setView(view) {
  app.view = view;
  const available = driverView && driverView.available;
  const shown = available ? view : "top";
  $("stage").dataset.view = shown;
  if (driverView) driverView.enabled = available && shown !== "top";
  renderer.enabled = shown !== "driver";
  for (const button of document.querySelectorAll("#view-toggle button")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === view));
    button.disabled = !available && button.dataset.view !== "top";
  }
}

function status(text) {
  $("status").textContent = text;
}

function updateDriver() {
  let text;
  if (app.autopilot && policy.ready) text = "autopilot (model)";
  else if (app.autopilot) text = "manual (keyboard) — no model loaded";
  else text = "manual (keyboard)";
  hud.setDriver(text);
  const toggle = $("autopilot-toggle");
  toggle.setAttribute("aria-pressed", String(app.autopilot));
  toggle.textContent = app.autopilot ? "Autopilot on" : "Autopilot off";
}

const policy = new PolicyRunner((runner) => {
  app.modelLoaded = runner.ready;
  app.modelName = runner.current ? runner.current.name : null;
  app.modelSha256 = runner.current ? runner.current.sha256 : null;
  app.modelError = runner.error;
  app.registryVersion = runner.registry ? runner.registry.version : null;
  if (runner.current) {
    hud.setModel(`${runner.current.label} · registry v${runner.registry.version}`);
    conn.send({ type: "model", name: runner.current.name, sha256: runner.current.sha256 });
  } else {
    hud.setModel(`none — ${runner.error}`);
  }
  updateDriver();
});

const keyboard = new Keyboard(
  () => {
    if (app.autopilot) {
      app.autopilot = false;
      status("manual driving (press A for the autopilot)");
      updateDriver();
    }
  },
  () => {
    app.autopilot = !app.autopilot;
    updateDriver();
  },
);

async function answer(frame) {
  let action = null;
  let source = "manual";
  if (app.autopilot && policy.ready) {
    try {
      action = await policy.act(decodeObs(frame.obs));
      source = "policy";
    } catch (err) {
      status(`policy error: ${err.message || err}`);
    }
  }
  if (!action) action = { controls: keyboard.controls() };
  app.lastPlan = action.plan === undefined ? null : action.plan;
  if (conn.send({ type: "controls", tick: frame.tick, ...action, source })) app.answered += 1;
}

function onTick(frame) {
  frame.vehicles = decodeVehicles(frame.vehicles, frame.ego.x_m, app.vehicleFields);
  app.tick = frame.tick;
  app.simTimeS = frame.t_s;
  app.frames += 1;
  app.collisions = frame.counters.collisions;
  app.interventions = frame.counters.interventions;
  app.lateAnswers = frame.counters.late_answers;
  app.lastSource = frame.supervisor.source || app.lastSource;
  app.mission = frame.mission;
  app.explain = frame.explain;
  timeline.push(frame);
  hud.update(frame);
  if (frame.drive_reason) {
    const text = driveBanner(frame.drive_reason);
    banner(text);
    speaker.say(text);
  }
  if (frame.mission.kind !== missionKind) {
    missionKind = frame.mission.kind;
    policy.select(missionKind);
  }
  answer(frame);
}

function onMessage(msg) {
  switch (msg.type) {
    case "tick":
      onTick(msg);
      break;
    case "hello":
      app.sessionId = msg.session_id;
      hud.setRoad(msg.road);
      app.vehicleFields = msg.vehicle_fields;
      timeline.setRate(msg.tick_hz);
      renderer.setRoad(msg.road);
      if (driverView && driverView.available) driverView.buildRoad(msg.road);
      if (!policy.registry || policy.registry.version !== msg.registry.version) {
        policy.useRegistry(msg.registry);
      } else if (policy.current) {
        conn.send({ type: "model", name: policy.current.name, sha256: policy.current.sha256 });
      }
      status(`connected · session ${msg.session_id} · ${msg.tick_hz} Hz`);
      break;
    case "registry":
      status(`registry updated to v${msg.version}: loading the new weights`);
      policy.useRegistry(msg);
      break;
    case "command_result":
      app.lastReply = msg;
      $("reply").textContent = msg.reply;
      $("reply").className = msg.ok ? "" : "refused";
      speaker.say(msg.reply.replace(/^OK: /, "OK, "));
      if (msg.ok && msg.mission) {
        hud.setMission(msg.mission.text);
        if (msg.mission.kind !== missionKind) {
          missionKind = msg.mission.kind;
          policy.select(missionKind);
        }
      }
      break;
    case "error":
      app.errors.push(msg);
      if (app.errors.length > 20) app.errors.shift();
      if (!QUIET_ERRORS.has(msg.code)) status(`server: ${msg.message}`);
      break;
    default:
      break;
  }
}

const conn = new Connection({
  open: () => {
    app.connected = true;
  },
  close: (event) => {
    app.connected = false;
    status(`disconnected (${event.code}${event.reason ? `: ${event.reason}` : ""}); reconnecting…`);
  },
  message: onMessage,
});

function sendCommand(text, source) {
  const trimmed = text.trim();
  if (!trimmed) return;
  app.lastCommandSource = source;
  if (!conn.send({ type: "command", text: trimmed, source })) {
    $("reply").textContent = "Not connected; the command was not sent.";
  }
}

$("command-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("command-input");
  sendCommand(input.value, "text");
  input.value = "";
});

$("autopilot-toggle").addEventListener("click", () => {
  app.autopilot = !app.autopilot;
  updateDriver();
});

const voice = new Voice(
  $("mic-button"),
  (text) => {
    app.lastHeard = text;
    $("command-input").value = text;
    sendCommand(text, "voice");
  },
  status,
);
app.voiceAvailable = voice.available;

for (const button of document.querySelectorAll("#view-toggle button")) {
  button.addEventListener("click", () => setView(button.dataset.view));
}

function frameLoop(now) {
  renderer.draw(now);
  if (driverView) driverView.draw(now);
  requestAnimationFrame(frameLoop);
}

async function startDriverView() {
  try {
    const { DriverView } = await import("./view3d.js");
    driverView = new DriverView($("view3d"), timeline);
    if (driverView.error) status(driverView.error);
  } catch (err) {
    status(`3D view unavailable: ${err.message || err}`);
  }
  window.simView3d = driverView;
  setView(app.view);
}

async function boot() {
  requestAnimationFrame(frameLoop);
  await startDriverView();
  updateDriver();
  try {
    const response = await fetch("/api/registry");
    await policy.useRegistry(await response.json());
  } catch (err) {
    status(`could not read the model registry: ${err.message || err}`);
  }
  conn.connect();
}

boot();
