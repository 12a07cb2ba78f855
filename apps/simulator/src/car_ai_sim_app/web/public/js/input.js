// Commands by voice (Web Speech API, where the browser has it) and manual driving by keyboard.

// A one-shot speech recognizer; calls onText(transcript) with what was heard.
export class Voice {
  constructor(button, onText, onStatus) {
    this.button = button;
    this.onText = onText;
    this.onStatus = onStatus;
    this.Recognition = window.SpeechRecognition || window.webkitSpeechRecognition || null;
    this.active = null;
    if (!this.Recognition) {
      button.disabled = true;
      button.title = "Speech recognition is not available in this browser; type the command instead";
      return;
    }
    button.addEventListener("click", () => this.toggle());
  }

  get available() {
    return this.Recognition !== null;
  }

  toggle() {
    if (this.active) {
      this.active.stop();
      return;
    }
    const rec = new this.Recognition();
    rec.lang = "en-US";
    rec.interimResults = false;
    rec.maxAlternatives = 1;
    rec.onresult = (event) => {
      const index = event.resultIndex || 0;
      const text = event.results[index][0].transcript;
      this.onStatus(`heard: "${text}"`);
      this.onText(text);
    };
    rec.onerror = (event) => this.onStatus(`speech recognition: ${event.error || "error"}`);
    rec.onend = () => {
      this.active = null;
      this.button.classList.remove("listening");
    };
    this.active = rec;
    this.button.classList.add("listening");
    this.onStatus("listening…");
    rec.start();
  }
}

// Arrow keys: ↑ throttle, ↓ brake, ← → one lane change per press. A toggles the autopilot.
export class Keyboard {
  constructor(onTakeover, onToggle) {
    this.down = new Set();
    this.laneRequest = 0;
    window.addEventListener("keydown", (event) => {
      if (event.target instanceof HTMLInputElement) return;
      if (event.key === "a" || event.key === "A") {
        onToggle();
        return;
      }
      if (!event.key.startsWith("Arrow")) return;
      event.preventDefault();
      if (!event.repeat) {
        if (event.key === "ArrowLeft") this.laneRequest = -1;
        if (event.key === "ArrowRight") this.laneRequest = 1;
      }
      this.down.add(event.key);
      onTakeover();
    });
    window.addEventListener("keyup", (event) => this.down.delete(event.key));
    window.addEventListener("blur", () => this.down.clear());
  }

  // Controls for the next tick; a lane request is sent once.
  controls() {
    const throttle = this.down.has("ArrowUp") ? 0.7 : 0;
    const brake = this.down.has("ArrowDown") ? 0.6 : 0;
    const lane = this.laneRequest;
    this.laneRequest = 0;
    return [throttle, brake, lane];
  }
}
