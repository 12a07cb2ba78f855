"""End to end in headless Chromium (Debian's chromium driven by Playwright): the page loads the
model in onnxruntime-web and drives 20 simulated seconds without a collision, a typed command
changes the mission and the HUD shows it, a fake SpeechRecognition takes the voice path, and a
new export in the registry reaches the page. A screenshot is saved under tests/artifacts/."""

from __future__ import annotations

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
    "--disable-gpu",
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
        pytest.skip("needs onnxruntime-web: run `npm ci` in apps/simulator/web")
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


def open_page(browser: Any, url: str, init_script: str | None = None) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
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
    assert reply["mission"]["kind"] == "lane" and reply["mission"]["target_lane_number"] == 1
    assert page.evaluate("window.simApp.lastHeard") == "change to lane 1"
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
