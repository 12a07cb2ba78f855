// The session WebSocket: JSON messages, reconnecting after a drop.
export class Connection {
  constructor(handlers) {
    this.handlers = handlers; // {open, close, message}
    this.ws = null;
    this.retryMs = 500;
    this.stopped = false;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(`${scheme}${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      this.handlers.open();
    };
    ws.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handlers.message(msg);
    };
    ws.onclose = (event) => {
      this.handlers.close(event);
      if (this.stopped) return;
      const wait = event.code === 1013 ? 5000 : this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, 8000);
      setTimeout(() => this.connect(), wait);
    };
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }
}

// base64 of little-endian float32 values -> Float32Array
export function decodeObs(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

// Other vehicles: float32 rows whose columns the hello message names (`vehicle_fields`, with
// `dx_m` measured from the ego). Returns objects with absolute `x_m`.
export function decodeVehicles(base64, egoX, fields) {
  const values = decodeObs(base64);
  const n = fields.length;
  const dx = fields.indexOf("dx_m");
  const out = [];
  for (let i = 0; i + n <= values.length; i += n) {
    const v = {};
    for (let k = 0; k < n; k += 1) v[fields[k]] = values[i + k];
    v.x_m = egoX + values[i + dx];
    out.push(v);
  }
  return out;
}
