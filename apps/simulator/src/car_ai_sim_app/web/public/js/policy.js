// The policy: exported ONNX actors run with onnxruntime-web (WASM backend), served by the
// backend under /vendor/ort/. Models come from the registry, one per mission kind; a model is
// fetched once per content hash and swapped in only once it has loaded. A model gives either
// controls or, in the plan action mode, the index of a driving plan, which the server turns
// into controls from the simulator state.
import * as ort from "/vendor/ort/ort.wasm.min.mjs";

ort.env.wasm.wasmPaths = "/vendor/ort/";
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.logLevel = "error";

async function sha256Hex(buffer) {
  if (!globalThis.crypto || !crypto.subtle) return null; // not a secure context
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function isPlanModel(session) {
  return session.outputNames.includes("plan");
}

export class PolicyRunner {
  constructor(onChange) {
    this.onChange = onChange;
    this.registry = null;
    this.kind = "cruise";
    this.current = null; // {name, sha256, label, session}
    this.cache = new Map(); // sha256 -> Promise<InferenceSession>
    this.error = null;
    this.busy = false;
  }

  get ready() {
    return this.current !== null;
  }

  async useRegistry(registry) {
    this.registry = registry;
    const live = new Set(Object.values(registry.models).map((m) => m.sha256));
    for (const sha of this.cache.keys()) if (!live.has(sha)) this.cache.delete(sha);
    if (this.current && !live.has(this.current.sha256)) this.current = null;
    await this.select(this.kind);
  }

  async select(kind) {
    this.kind = kind;
    const registry = this.registry;
    const name = registry && registry.missions[kind];
    const entry = name && registry.models[name];
    if (!entry) {
      this.current = null;
      this.error = registry ? `no model for ${kind} missions in the registry` : "no registry";
      this.onChange(this);
      return;
    }
    if (this.current && this.current.sha256 === entry.sha256) return;
    try {
      const session = await this.load(entry);
      const wanted = this.registry.models[this.registry.missions[this.kind]];
      if (!wanted || wanted.sha256 !== entry.sha256) return; // superseded while loading
      this.current = { ...entry, session };
      this.error = null;
    } catch (err) {
      this.cache.delete(entry.sha256);
      this.error = `model ${entry.name} failed to load: ${err.message || err}`;
    }
    this.onChange(this);
  }

  load(entry) {
    if (!this.cache.has(entry.sha256)) {
      this.cache.set(entry.sha256, this.fetchSession(entry));
    }
    return this.cache.get(entry.sha256);
  }

  async fetchSession(entry) {
    const response = await fetch(entry.url, { cache: "no-cache" });
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${entry.url}`);
    const buffer = await response.arrayBuffer();
    const sha = await sha256Hex(buffer);
    if (sha !== null && sha !== entry.sha256) throw new Error("content hash mismatch");
    const session = await ort.InferenceSession.create(new Uint8Array(buffer), {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    const outputs = session.outputNames;
    const acts = outputs.includes("controls") || outputs.includes("plan");
    if (!session.inputNames.includes("obs") || !acts) {
      throw new Error("the model does not map obs to controls or a plan");
    }
    return session;
  }

  // For one observation (Float32Array): {plan: k} from a plan model, else
  // {controls: [throttle, brake, lane request]}.
  async act(obs) {
    const current = this.current;
    if (!current) return null;
    const input = new ort.Tensor("float32", obs, [1, obs.length]);
    if (isPlanModel(current.session)) {
      const output = await current.session.run({ obs: input }, ["plan"]);
      return { plan: Number(output.plan.data[0]) };
    }
    const output = await current.session.run({ obs: input }, ["controls"]);
    return { controls: Array.from(output.controls.data, Number) };
  }
}
