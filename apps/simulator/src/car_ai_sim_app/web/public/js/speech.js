// Spoken confirmations with the browser's speechSynthesis, so voice goes both ways.
export class Speaker {
  constructor(button) {
    this.synth = window.speechSynthesis || null;
    this.Utterance = window.SpeechSynthesisUtterance || null;
    this.enabled = this.available;
    this.button = button;
    this.spoken = [];
    if (!this.available) {
      button.disabled = true;
      button.title = "Speech synthesis is not available in this browser";
    }
    button.addEventListener("click", () => this.toggle());
    this.render();
  }

  get available() {
    return this.synth !== null && this.Utterance !== null;
  }

  toggle() {
    this.enabled = !this.enabled;
    if (!this.enabled && this.synth) this.synth.cancel();
    this.render();
  }

  render() {
    this.button.setAttribute("aria-pressed", String(this.enabled));
    this.button.textContent = this.enabled ? "Voice replies on" : "Voice replies off";
  }

  say(text) {
    if (!this.enabled || !this.available || !text) return;
    this.synth.cancel(); // the newest confirmation replaces one still being read
    const utterance = new this.Utterance(text);
    utterance.lang = "en-US";
    utterance.rate = 1.05;
    this.synth.speak(utterance);
    this.spoken.push(text);
    if (this.spoken.length > 20) this.spoken.shift();
  }
}
