"""End to end in headless Chromium (Debian's chromium driven by Playwright, WebGL through
SwiftShader): the page loads the model in onnxruntime-web and drives 20 simulated seconds
without a collision, a typed command changes the mission and the HUD shows it, the three.js
driver's view renders a non-blank frame, a fake SpeechRecognition takes the voice path and a
stubbed speechSynthesis speaks the confirmation, the HUD explains a cruise held by a slower
car, a new export in the registry reaches the page, and a plan-mode model drives by sending
plans that the HUD names. Screenshots are saved under tests/artifacts/."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import modelkit
import pytest
from conftest import ARTIFACTS, running_server, write_registry

from car_ai_sim_app.config import WEB_DIR, AppConfig

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ORT_WASM = WEB_DIR / "node_modules" / "onnxruntime-web" / "dist" / "ort-wasm-simd-threaded.wasm"
TIME_SCALE = 2.0
FAKE_SPEECH = """
window.__spoken = [];
window.SpeechRecognition = class {
  start() {
    window.__spoken.push('start');
    setTimeout(() => {
      this.onresult && this.onresult({resultIndex: 0,
        results: [[{transcript: 'change to lane 1', confidence: 0.93}]]});
      this.onend && this.onend();
    }, 30);
  }
  stop() { this.onend && this.onend(); }
  abort() {}
};
window.__utterances = [];
Object.defineProperty(window, 'SpeechSynthesisUtterance', {configurable: true,
  value: class { constructor(text) { this.text = text; } }});
Object.defineProperty(window, 'speechSynthesis', {configurable: true, value: {
  speak(u) { window.__utterances.push(u.text); },
  cancel() {},
}});
"""


def wait_for(page: Any, expression: str, timeout_s: float) -> Any:
    """Poll a JavaScript expression (the page's CSP forbids Playwright's eval-based waits)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            state = page.evaluate("JSON.stringify(window.simApp || null)")
            raise AssertionError(f"timed out waiting for {expression}; page state: {state}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    if not ORT_WASM.exists():
        pytest.skip("needs onnxruntime-web: run `npm ci` in apps/simulator/src/car_ai_sim_app/web")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("site")
    model = root / "highway.onnx"
    shutil.copy(models.good, model)
    registry = write_registry(root / "registry.json", {"models": {"highway": "highway.onnx"}})
    config = AppConfig(
        registry=registry,
        mission_log=root / "missions.sqlite",
        time_scale=TIME_SCALE,
        watch_interval_s=0.2,
        seed=11,
    )
    with running_server(config) as host:
        yield {"url": f"http://{host}", "model": model, "root": root}


def open_page(
    browser: Any, url: str, init_script: str | None = None, size: tuple[int, int] = (1280, 800)
) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    page.goto(url)
    wait_for(page, "window.simApp && window.simApp.modelLoaded && window.simApp.frames > 2", 60)
    return page, problems


def test_page_drives_and_obeys_a_typed_command(browser, site) -> None:
    page, problems = open_page(browser, site["url"])
    sha = httpx.get(f"{site['url']}/api/registry").json()["models"]["highway"]["sha256"]
    assert page.evaluate("window.simApp.modelSha256") == sha
    assert sha[:8] in page.inner_text("#hud-model")
    wait_for(page, "window.simApp.simTimeS >= 20", 20 / TIME_SCALE * 4 + 20)
    app = page.evaluate("window.simApp")
    assert app["collisions"] == 0
    assert app["lastSource"] == "policy"
    assert app["lateAnswers"] <= 0.1 * app["frames"], app
    assert page.evaluate("document.getElementById('hud-speed').textContent") != "–"

    page.fill("#command-input", "take the next exit")
    page.press("#command-input", "Enter")
    reply = wait_for(page, "window.simApp.lastReply", 10)
    assert reply["ok"] and reply["source"] == "text" and reply["mission"]["kind"] == "exit"
    wait_for(page, "window.simApp.mission && window.simApp.mission.kind === 'exit'", 10)
    wait_for(
        page, "document.getElementById('hud-mission').textContent.includes('take the next exit')", 5
    )
    assert "take the next exit" in page.inner_text("#reply")
    ARTIFACTS.mkdir(exist_ok=True)
    time.sleep(0.3)
    page.screenshot(path=str(ARTIFACTS / "simulator-page.png"))
    assert (ARTIFACTS / "simulator-page.png").stat().st_size > 10_000
    assert not problems, problems
    page.context.close()


def test_voice_path_with_a_fake_speech_recognizer(browser, site) -> None:
    page, problems = open_page(browser, site["url"], FAKE_SPEECH)
    assert page.evaluate("window.simApp.voiceAvailable")
    page.click("#mic-button")
    reply = wait_for(page, "window.simApp.lastReply", 10)
    assert page.evaluate("window.__spoken") == ["start"]
    assert reply["ok"] and reply["source"] == "voice"
    assert page.evaluate("window.simApp.lastHeard") == "change to lane 1"
    spoken = wait_for(page, "window.__utterances.length && window.__utterances", 5)
    assert spoken[-1] == reply["reply"].replace("OK: ", "OK, ")
    if reply.get("changed", True):
        assert reply["mission"]["kind"] == "lane" and reply["mission"]["target_lane_number"] == 1
    else:
        assert reply["reply"].startswith("Already in lane 1")
    if reply.get("changed", True):
        wait_for(page, "document.getElementById('hud-mission').textContent.includes('lane 1')", 5)
        session_id = page.evaluate("window.simApp.sessionId")
        live = httpx.get(f"{site['url']}/api/missions", params={"session_id": session_id}).json()[
            "live"
        ]
        assert live[0]["command_text"] == "change to lane 1"
        assert live[0]["mission_json"]["source"] == "voice"
    assert not problems, problems
    page.context.close()


def test_page_loads_new_weights_when_the_registry_changes(browser, site) -> None:
    page, problems = open_page(browser, site["url"])
    old = page.evaluate("window.simApp.modelSha256")
    newer = modelkit.with_metadata(site["model"], site["root"] / "newer.onnx", train_steps="8192")
    staging = site["root"] / "staging.onnx"
    shutil.copy(newer, staging)
    staging.replace(site["model"])
    wait_for(page, f"window.simApp.modelSha256 && window.simApp.modelSha256 !== '{old}'", 20)
    assert page.evaluate("window.simApp.registryVersion") >= 2
    assert "8192 steps" in page.inner_text("#hud-model")
    frames = page.evaluate("window.simApp.frames")
    wait_for(
        page, f"window.simApp.frames > {frames + 5} && window.simApp.lastSource === 'policy'", 20
    )
    assert not problems, problems
    page.context.close()


def test_driver_view_renders_a_frame(browser, site) -> None:
    page, problems = open_page(browser, site["url"])
    assert page.evaluate("window.simView3d && window.simView3d.available"), page.evaluate(
        "window.simView3d && window.simView3d.error"
    )
    wait_for(page, "window.simView3d.frames > 30", 20)
    painted = page.evaluate("window.simView3d.painted()")
    assert painted["width"] > 300 and painted["height"] > 150
    # road, grass, cars and sky: most of the frame is drawn and it has many colours
    assert painted["share"] > 0.3 and painted["colors"] > 8, painted
    # it draws every animation frame (not only at ticks); software WebGL on a busy machine
    # sets the rate, so only that it keeps drawing is checked here
    frames = page.evaluate("window.simView3d.frames")
    time.sleep(1.0)
    assert page.evaluate("window.simView3d.frames") > frames
    page.click("#view-toggle button[data-view='top']")
    assert page.evaluate("getComputedStyle(document.getElementById('view3d')).display") == "none"
    page.click("#view-toggle button[data-view='driver']")
    assert page.evaluate("getComputedStyle(document.getElementById('road')).display") == "none"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "driver-view.png"))
    page.click("#view-toggle button[data-view='both']")
    assert not problems, problems
    page.context.close()


@pytest.fixture(scope="module")
def dense_site(models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Dense traffic, so a fast cruise soon meets slower cars with the left lane taken."""
    root = tmp_path_factory.mktemp("dense")
    config = AppConfig(
        model=models.good,
        mission_log=root / "missions.sqlite",
        time_scale=4.0,
        seed=5,
        sim_overrides={"traffic_density": 45.0},
    )
    with running_server(config) as host:
        yield f"http://{host}"


def test_hud_explains_a_cruise_held_by_a_slower_car(browser, dense_site) -> None:
    page, problems = open_page(browser, dense_site, FAKE_SPEECH)
    page.fill("#command-input", "cruise at 140 km/h")
    page.press("#command-input", "Enter")
    assert wait_for(page, "window.simApp.lastReply", 10)["ok"]
    text = wait_for(
        page,
        "(() => { const t = document.getElementById('hud-explain').textContent;"
        " return t.startsWith('following a slower car') ? t : null; })()",
        60,
    )
    match = re.fullmatch(
        r"following a slower car at (\d+) km/h; (will overtake when the left lane clears|"
        r"the left lane is clear to overtake|no lane to its left to overtake in)",
        text,
    )
    assert match, text
    assert 20 <= int(match.group(1)) < 140
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "following-explained.png"))
    assert not problems, problems
    page.context.close()


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768), (1024, 700), (820, 1000), (390, 844)])
def test_hud_leaves_the_road_clear(browser, site, size) -> None:
    page, problems = open_page(browser, site["url"], size=size)
    boxes = page.evaluate(
        "['hud', 'view3d', 'road', 'command-form'].map((id) => {"
        " const r = document.getElementById(id).getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })"
    )
    hud, *others = boxes

    def overlap(a: list[float], b: list[float]) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for other in others:
        assert not overlap(hud, other), (size, hud, other)
    road = boxes[2]
    assert road[2] - road[0] >= min(size[0] - 40, 300) * 0.9, road
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    ARTIFACTS.mkdir(exist_ok=True)
    time.sleep(0.5)
    page.screenshot(path=str(ARTIFACTS / f"page-{size[0]}x{size[1]}.png"))
    assert not problems, problems
    page.context.close()


@pytest.fixture(scope="module")
def plan_site(plan_model, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("plan-site")
    config = AppConfig(
        model=plan_model, mission_log=root / "missions.sqlite", time_scale=TIME_SCALE, seed=7
    )
    with running_server(config) as host:
        yield f"http://{host}"


def test_page_drives_a_plan_model_by_sending_plans(browser, plan_site) -> None:
    from car_ai_rl.policies.plans import N_PLANS, PLAN_NAMES

    page, problems = open_page(browser, plan_site)
    assert "PPO plan" in page.inner_text("#hud-model")
    wait_for(page, "window.simApp.simTimeS >= 5", 5 / TIME_SCALE * 4 + 20)
    app = page.evaluate("window.simApp")
    assert app["lastSource"] == "policy"
    assert isinstance(app["lastPlan"], int) and 0 <= app["lastPlan"] < N_PLANS
    assert app["lateAnswers"] <= 0.1 * app["frames"], app
    counters = httpx.get(f"{plan_site}/api/stats").json()["counters"]  # this page's session
    assert counters["plan_ticks"] >= 0.8 * counters["ticks"] > 0, counters
    text = wait_for(
        page,
        "(() => { const t = document.getElementById('hud-explain').textContent;"
        " return t.startsWith('plan: ') ? t : null; })()",
        10,
    )
    name = text.removeprefix("plan: ").split(" — ")[0]
    assert name in PLAN_NAMES, text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "plan-model.png"))
    assert not problems, problems
    page.context.close()


ORT_WEB_RUN = """
async ([rows, dim]) => {
  const ort = await import("/vendor/ort/ort.wasm.min.mjs");
  const response = await fetch("/models/highway", {cache: "no-cache"});
  const session = await ort.InferenceSession.create(new Uint8Array(await response.arrayBuffer()),
    {executionProviders: ["wasm"]});
  const flat = new Float32Array(rows.flat());
  const out = await session.run({obs: new ort.Tensor("float32", flat, [rows.length, dim])});
  return {action: Array.from(out.action.data, Number), controls: Array.from(out.controls.data)};
}
"""


def test_onnxruntime_web_runs_the_masked_policy_exactly(browser, site, models) -> None:
    """The page's runtime chooses the same actions as onnxruntime and the SB3 model, mask
    included: on observations where the unmasked network wants a disallowed action too."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from car_ai_rl.envs.actions import DISCRETE_CONTROLS
    from car_ai_rl.export.actor import build_actor
    from car_ai_rl.policies import load_policy
    from car_ai_rl.policies.sb3_model import load_sb3
    from car_ai_rl.sim import core
    from car_ai_rl.sim.observation import allowed_actions
    from car_ai_rl.sim.params import SimParams

    zip_path = models.good.with_suffix(".zip")  # the export's source
    # states from reckless driving (random actions, no supervisor), where much is disallowed
    params = SimParams()
    state, ob = core.reset(params, core.seeds_from_ints(40, 16))
    rng = np.random.default_rng(0)
    chunks = []
    for t in range(150):
        if t % 5 == 0:
            chunks.append(ob)
        _, result = core.step(state, DISCRETE_CONTROLS[rng.integers(0, 21, 16)], params)
        ob = result.obs
    obs = np.concatenate(chunks).astype(np.float32)
    model, info = load_sb3(zip_path)
    with torch.no_grad():
        raw = build_actor(model, info.algo, info.action_mode).body(torch.as_tensor(obs))
    allowed = allowed_actions(obs)
    binds = ~allowed[np.arange(len(obs)), raw.argmax(1).numpy()]
    assert binds.sum() >= 5, "the mask never binds on these observations"

    page, problems = open_page(browser, site["url"])
    web = page.evaluate(ORT_WEB_RUN, [obs.tolist(), obs.shape[1]])
    page.context.close()
    web_action = np.array(web["action"], dtype=np.int64)
    session = ort.InferenceSession(str(site["model"]), providers=["CPUExecutionProvider"])
    controls, action = session.run(["controls", "action"], {"obs": obs})
    np.testing.assert_array_equal(web_action, action)
    np.testing.assert_allclose(np.array(web["controls"]).reshape(-1, 3), controls, atol=1e-6)
    assert allowed[np.arange(len(obs)), web_action].all()
    sb3 = load_policy(str(zip_path)).predict(obs)
    np.testing.assert_array_equal(web_action, sb3)
    assert not problems, problems
