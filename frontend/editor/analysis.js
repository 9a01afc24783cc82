// The editors' analysis, off the page's thread. The page's own wasm module (glue and .wasm
// that trunk emits, found by their preload links) is loaded a second time in a module worker
// started from this bundle's URL; there `main` renders nothing and the worker drives the
// module's `Analyst` (frontend/src/analyst.rs): a whole check after each edit, diagnostics
// for the version it checked, completion, hover and definition from that check. The page
// sends edits (CodeMirror's changes, not the whole text), asks for one check at a time and
// drops answers of a version that typing has already overtaken. The page's Problems list and
// preview get a report of the same check (`onReport`): with every check while the files are
// small, once typing pauses when they are large.
//
// Small texts (both files under `inline` UTF-16 units, like Codeship's 00.aggregate) are also
// checked on the page's thread, in a microtask right after the edit's transaction: about a
// millisecond there, and the underlines are up in the keystroke's own frame instead of after
// two thread hops, which on a busy machine each wait for a core (docs/perf.md). Completion,
// hover and definition of such texts are answered from that check too. The worker still
// gets every edit: the report comes from it, and everything for larger texts.

/** What the editors ask the analysis, by the `Analyst` method that answers. */
const QUERIES = ["complete", "hover", "definition"];

/** Milliseconds on a clock the page and the worker share. */
const clock = () => performance.timeOrigin + performance.now();

/** The page's side: one worker for both editors. */
export class AnalysisClient {
  /**
   * @param {(result: object) => void} onDiagnostics `{thread, services: [...], steps: [...]}`
   * @param {number} large UTF-16 units of both files from which reports wait for a pause
   * @param {number} pause that pause, in milliseconds
   * @param {number} inline UTF-16 units of both files under which the page checks them itself
   * @param {(name: string) => string} textOf an editor's current text ("" when it has none)
   */
  constructor(onDiagnostics, large, pause, inline, textOf) {
    this.onDiagnostics = onDiagnostics;
    this.large = large;
    this.pause = pause;
    this.inline = inline;
    this.textOf = textOf;
    /** The page's own `Analyst` (the page's wasm module), made on first use. */
    this.local = null;
    /** The version the page's `Analyst` last checked, and the lengths of the texts it had. */
    this.localVersion = -1;
    this.localLengths = {};
    this.inlineQueued = false;
    /** Rust's callback with the report of settled texts (arrays, see language.rs). */
    this.onReport = null;
    this.reportWanted = false;
    this.pauseTimer = 0;
    /** The id of the plan the page has (0: none): the worker leaves an unchanged plan out. */
    this.knownPlan = 0;
    this.lengths = {};
    this.worker = null;
    /** Counts every edit of either file; an answer is current if it is of this version. */
    this.version = 0;
    this.checking = false;
    this.wanted = false;
    /** The version whose diagnostics the views show. */
    this.shownVersion = -1;
    this.options = null;
    this.requests = new Map();
    this.nextId = 1;
  }

  start() {
    if (this.worker) return;
    const glue = document.querySelector('link[rel="modulepreload"][href$=".js"]');
    const wasm = document.querySelector('link[rel="preload"][href$=".wasm"]');
    if (!glue || !wasm) throw new Error("the studio's wasm module is not preloaded (index.html built by trunk?)");
    this.worker = new Worker(import.meta.url, { type: "module", name: "slipway-analysis" });
    this.worker.onmessage = (e) => this.received(e.data);
    this.worker.onerror = (e) => console.error("slipway analysis worker:", e.message || e);
    this.worker.postMessage({ type: "init", glue: glue.href, wasm: wasm.href });
    if (this.options) this.worker.postMessage({ type: "options", options: this.options });
  }

  /** A file's whole text (an editor was created). */
  open(name, text) {
    this.start();
    this.version += 1;
    this.lengths[name] = text.length;
    this.worker.postMessage({ type: "open", name, text, version: this.version });
    this.check();
    this.checkInline();
  }

  /**
   * `[[from, to, insert], …]` in UTF-16 units of the previous text, ascending; `length` of
   * the new text.
   */
  edit(name, changes, length) {
    // For docs/perf.md: when the keystroke's transaction was made.
    window.slipwayStudio.editAt = performance.now();
    this.version += 1;
    this.lengths[name] = length;
    this.worker.postMessage({ type: "edit", name, changes, version: this.version });
    clearTimeout(this.pauseTimer);
    if (this.isLarge()) this.pauseTimer = setTimeout(() => this.wantReport(), this.pause);
    this.check();
    this.checkInline();
  }

  total() {
    return Object.values(this.lengths).reduce((a, b) => a + b, 0);
  }

  isLarge() {
    return this.total() >= this.large;
  }

  /**
   * For small texts: check on this thread once the current transaction is applied (a
   * microtask, so CodeMirror's state holds the new text and a view may be dispatched to).
   */
  checkInline() {
    if (this.total() >= this.inline || this.inlineQueued) return;
    this.inlineQueued = true;
    queueMicrotask(() => {
      this.inlineQueued = false;
      if (this.total() >= this.inline) return;
      const analyst = this.localAnalyst();
      if (!analyst) return;
      const version = this.version;
      const texts = { services: this.textOf("services"), steps: this.textOf("steps") };
      let result, took;
      try {
        took = analyst.analyse(texts.services, texts.steps);
        result = JSON.parse(analyst.diagnostics());
        this.localVersion = version;
        this.localLengths = { services: texts.services.length, steps: texts.steps.length };
      } catch (e) {
        // A failure here is on the page's own module: leave checking to the worker from now on.
        console.error("slipway: the check on the page failed; the worker checks from now on:", e);
        this.inline = 0;
        this.local = null;
        return;
      }
      if (!result) return;
      this.shownVersion = version;
      this.onDiagnostics(result, { version, took, checkedMs: took, diagnosticsMs: 0 });
    });
  }

  localAnalyst() {
    if (!this.local) {
      const Analyst = window.wasmBindings && window.wasmBindings.Analyst;
      if (!Analyst) return null; // the page's module is not there yet (the worker checks)
      this.local = new Analyst();
      if (this.options) this.local.setOptions(this.options);
    }
    return this.local;
  }

  setOnReport(f) {
    this.onReport = f;
    if (f && this.worker) this.wantReport();
  }

  wantReport() {
    this.reportWanted = true;
    this.check();
  }

  setOptions(options) {
    this.options = options;
    if (this.local) this.local.setOptions(options);
    if (!this.worker) return;
    this.version += 1;
    this.worker.postMessage({ type: "options", options, version: this.version });
    this.check();
    this.checkInline();
  }

  /** One check in flight at most: typing faster than checks coalesces into the next one. */
  check() {
    if (this.checking) {
      this.wanted = true;
      return;
    }
    this.checking = true;
    this.wanted = false;
    const report = this.onReport !== null && (this.reportWanted || !this.isLarge());
    this.reportWanted = false;
    this.worker.postMessage({ type: "check", report, knownPlan: this.knownPlan, sentAt: clock() });
  }

  /**
   * Ask the worker ("complete" | "hover" | "definition") at a UTF-16 offset of `name`'s text
   * of `length` units; resolves to its JSON answer or undefined.
   */
  async request(type, name, pos, length) {
    // The view's update listener posts the edit this state came from; a source called
    // during that update runs before it: let it finish first (and the check on this thread
    // of a small text, a microtask queued with the edit).
    await Promise.resolve();
    // A small text's analysis on this thread, of this very version, answers at once: no
    // round trip through the worker, where the request would also wait behind the check.
    if (!QUERIES.includes(type)) throw new Error(`no query ${type}; use ${QUERIES.join(", ")}`);
    if (this.local && this.localVersion === this.version && this.localLengths[name] === length) {
      try {
        const answer = this.local[type](name, pos);
        window.slipwayStudio.answeredOn = "main";
        return answer;
      } catch (e) {
        // As in `checkInline`: the page's module failed; the worker answers from now on.
        console.error("slipway: the page's analysis failed to answer; the worker answers from now on:", e);
        this.inline = 0;
        this.local = null;
      }
    }
    window.slipwayStudio.answeredOn = "worker";
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.requests.set(id, resolve);
      this.worker.postMessage({ type, id, name, pos, length });
    });
  }

  received(msg) {
    if (msg.type === "diagnostics") {
      // For docs/perf.md: where the time between a check's request and its answer goes.
      window.slipwayStudio.hops = { toWorker: msg.receivedAt - msg.sentAt, work: msg.repliedAt - msg.receivedAt, back: clock() - msg.repliedAt };
      this.checking = false;
      // Stale (typing went on meanwhile) answers are dropped; the next check is on its way.
      const current = msg.version === this.version;
      // A report comes with the diagnostics of its check again: those are on show already.
      if (current && msg.result && this.shownVersion !== msg.version) {
        this.shownVersion = msg.version;
        this.onDiagnostics(JSON.parse(msg.result), msg);
      }
      if (current && msg.report && this.onReport) {
        this.knownPlan = msg.planId;
        const started = performance.now();
        this.onReport(msg.report);
        // For docs/perf.md: the report's cost in the worker and on this thread.
        Object.assign(window.slipwayStudio, { reportAt: started, reportMs: msg.reportMs, reportPageMs: performance.now() - started });
      } else if (msg.report) {
        this.reportWanted = true;
      }
      if (this.wanted) this.check();
    } else if (msg.type === "answer") {
      const resolve = this.requests.get(msg.id);
      this.requests.delete(msg.id);
      if (resolve) resolve(msg.result);
    } else if (msg.type === "error") {
      console.error("slipway analysis worker:", msg.message);
    }
  }
}

/** The worker's side: texts, the module's `Analyst`, and the messages in order. */
export function serveAnalysis() {
  const texts = { services: "", steps: "" };
  let analyst = null;
  let version = 0;
  let analysed = -1;
  let took = 0;

  const current = () => {
    if (analysed !== version) {
      took = analyst.analyse(texts.services, texts.steps);
      analysed = version;
    }
  };
  const handlers = {
    async init({ glue, wasm }) {
      const m = await import(glue);
      await m.default({ module_or_path: wasm });
      analyst = new m.Analyst();
    },
    open({ name, text, version: v }) {
      texts[name] = text;
      version = v;
    },
    edit({ name, changes, version: v }) {
      let t = texts[name];
      // Ascending and non-overlapping offsets into the old text: apply from the end.
      for (let i = changes.length - 1; i >= 0; i--) {
        const [from, to, insert] = changes[i];
        t = t.slice(0, from) + insert + t.slice(to);
      }
      texts[name] = t;
      version = v;
    },
    options({ options, version: v }) {
      analyst.setOptions(options);
      if (v !== undefined) version = v;
      analysed = -1;
    },
    check({ report, knownPlan, sentAt }) {
      const receivedAt = clock();
      const started = performance.now();
      current();
      const checked = performance.now();
      const msg = { type: "diagnostics", version, took, result: analyst.diagnostics() };
      // For docs/perf.md: the whole check (with its copies) and the diagnostics' JSON, here.
      Object.assign(msg, { checkedMs: checked - started, diagnosticsMs: performance.now() - checked, sentAt, receivedAt });
      if (report) {
        const started = performance.now();
        Object.assign(msg, { report: analyst.report(knownPlan), planId: analyst.planId() });
        msg.reportMs = performance.now() - started;
      }
      msg.repliedAt = clock();
      self.postMessage(msg);
    },
  };
  const query = (method) => ({ id, name, pos, length }) => {
    // A text out of step with the editor's would answer for the wrong place: no answer.
    if (texts[name].length !== length) return self.postMessage({ type: "answer", id, result: undefined });
    current();
    self.postMessage({ type: "answer", id, result: analyst[method](name, pos) });
  };
  handlers.complete = query("complete");
  handlers.hover = query("hover");
  handlers.definition = query("definition");

  // Strictly in order, the first (init) awaited before the rest.
  let chain = Promise.resolve();
  self.onmessage = ({ data }) => {
    chain = chain.then(() => handlers[data.type](data)).catch((e) => {
      self.postMessage({ type: "error", message: String(e && e.stack || e) });
      if (data.id !== undefined) self.postMessage({ type: "answer", id: data.id, result: undefined });
      if (data.type === "check") self.postMessage({ type: "diagnostics", version: -1 });
    });
  };
}
