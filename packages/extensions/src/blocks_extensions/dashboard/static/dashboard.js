// The Blocks dashboard page: polls the server's JSON API and draws with plotly.js (served by the same server).
"use strict";

(function () {
  const settings = JSON.parse(document.body.dataset.settings || "{}");
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                  "#7f7f7f", "#bcbd22"];
  const MAX_DEFAULT_CHANNELS = 4;
  // plotly.js draws dates as given (no time zones): wall times are shifted to the browser's local time
  const LOCAL_SHIFT = -new Date().getTimezoneOffset() * 60000;
  const state = {
    runs: [], selectedRuns: null, selectedChannels: null, axis: "iteration", live: true,
    seriesKey: "", ranges: {}, colors: {}, updates: 0, drawn: 0, timer: null, busy: false, known: new Set(),
    deselected: new Set(),
  };
  const $ = (id) => document.getElementById(id);

  function apiUrl(path, params) {
    const query = new URLSearchParams(params || []);
    if (settings.token) query.set("token", settings.token);
    const text = query.toString();
    return path + (text ? "?" + text : "");
  }

  async function getJson(path, params) {
    const response = await fetch(apiUrl(path, params), { cache: "no-store" });
    let body;
    try { body = await response.json(); } catch (err) { body = { error: response.statusText }; }
    if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
    return body;
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("data-")) node.setAttribute(key, String(value));
      else if (key in node) node[key] = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function formatValue(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      const abs = Math.abs(value);
      return (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) ? value.toExponential(4) : String(Number(value.toPrecision(6)));
    }
    if (typeof value === "boolean") return value ? "true" : "false";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function formatSeconds(seconds) {
    if (seconds === null || seconds === undefined || typeof seconds !== "number") return "–";
    if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + String(Math.floor(seconds % 60)).padStart(2, "0") + " s";
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h " + String(minutes % 60).padStart(2, "0") + " min";
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  }

  function colorOf(runId) {
    // a run keeps its colour when it is resumed (its id changes, the first run of its history does not)
    const run = state.runs.find((r) => r.id === runId);
    const key = run ? run.log + "|" + run.chain[0] : runId;
    if (!(key in state.colors)) state.colors[key] = COLORS[Object.keys(state.colors).length % COLORS.length];
    return state.colors[key];
  }

  function select(runs) {
    // new runs are shown unless they continue a history the user hid; a resumed run replaces the one it continues
    for (const run of runs) {
      if (state.known.has(run.id)) continue;
      state.known.add(run.id);
      const hidden = run.chain.some((uuid) => state.deselected.has(run.log + "|" + uuid));
      if (!hidden) state.selectedRuns.add(run.id);
    }
    const ids = new Set(runs.map((run) => run.id));
    for (const id of [...state.selectedRuns]) if (!ids.has(id)) state.selectedRuns.delete(id);
  }

  function showErrors(messages) {
    const box = $("errors");
    box.replaceChildren(...messages.map((text) => element("p", { text })));
  }

  function allChannels(runs) {
    const names = [];
    for (const run of runs) for (const name of run.channels) if (!names.includes(name)) names.push(name);
    return names;
  }

  function defaultChannels(names) {
    const preferred = names.filter((n) => /cost|loss/i.test(n));
    const others = names.filter((n) => /error|acc|misclass|perplex/i.test(n) && !preferred.includes(n));
    const chosen = [...preferred, ...others];
    for (const name of names) if (!chosen.includes(name)) chosen.push(name);
    return chosen.slice(0, MAX_DEFAULT_CHANNELS);
  }

  function selectedRuns() {
    return state.runs.filter((run) => state.selectedRuns.has(run.id));
  }

  // -- side bar ------------------------------------------------------------------------------------------------
  function renderRuns() {
    const items = state.runs.map((run) => {
      const box = element("input", { type: "checkbox", checked: state.selectedRuns.has(run.id), "data-run": run.id });
      box.addEventListener("change", () => {
        for (const uuid of run.chain) {
          if (box.checked) state.deselected.delete(run.log + "|" + uuid); else state.deselected.add(run.log + "|" + uuid);
        }
        if (box.checked) state.selectedRuns.add(run.id); else state.selectedRuns.delete(run.id);
        state.seriesKey = "";
        render();
      });
      const facts = [
        element("span", { className: "state-" + run.state.replace(" ", "-"), text: run.state }),
        ` · epoch ${run.epochs_done} · iteration ${run.iterations_done}`,
        run.chain.length > 1 ? ` · resumed ${run.chain.length - 1}×` : "",
      ];
      return element("div", { className: "run", "data-run": run.id }, [
        element("label", {}, [box, element("span", { className: "swatch", style: `background:${colorOf(run.id)}` }),
                              element("span", { text: run.label, title: run.uuid })]),
        element("div", { className: "facts" }, facts),
        run.error ? element("div", { className: "facts state-failed", text: run.error }) : null,
      ]);
    });
    $("runs").replaceChildren(...(items.length ? items : [element("p", { className: "muted", text: "no run yet" })]));
  }

  function renderChannels() {
    const filter = $("filter").value.trim().toLowerCase();
    const names = allChannels(selectedRuns().length ? selectedRuns() : state.runs);
    const items = names.filter((name) => !filter || name.toLowerCase().includes(filter)).map((name) => {
      const box = element("input", { type: "checkbox", checked: state.selectedChannels.includes(name),
                                     "data-channel": name });
      box.addEventListener("change", () => {
        if (box.checked) state.selectedChannels.push(name);
        else state.selectedChannels = state.selectedChannels.filter((n) => n !== name);
        state.seriesKey = "";
        render();
      });
      return element("label", {}, [box, element("span", { text: name })]);
    });
    $("channels").replaceChildren(...items);
  }

  // -- status and checkpoints ----------------------------------------------------------------------------------
  function renderStatus() {
    const runs = selectedRuns();
    const channels = state.selectedChannels;
    const head = element("tr", {}, ["run", "state", "epoch", "iteration", "elapsed", "ETA", "last write",
                                    ...channels].map((text) => element("th", { text })));
    const now = Date.now() / 1000;
    const rows = runs.map((run) => {
      const ago = run.last_write ? formatSeconds(Math.max(now - run.last_write, 0)) + " ago" : "–";
      const eta = run.state === "finished" ? "done" : formatSeconds(run.eta);
      const cells = [
        element("td", {}, [element("span", { className: "swatch", style: `background:${colorOf(run.id)}` }),
                           " " + run.label]),
        element("td", { className: "state-" + run.state.replace(" ", "-"), text: run.state }),
        element("td", { text: run.epochs_done }), element("td", { text: run.iterations_done }),
        element("td", { text: formatSeconds(run.elapsed) }),
        element("td", { text: eta, title: run.eta_basis || "" }), element("td", { text: ago }),
      ];
      for (const name of channels) {
        const last = run.last[name];
        const value = last ? last.value : null;
        const bad = typeof value === "string" && /^(nan|inf|-inf)$/.test(value);
        cells.push(element("td", {
          className: bad ? "nonfinite" : "", text: formatValue(value), "data-run": run.id, "data-channel": name,
          "data-value": last ? JSON.stringify(value) : null, title: last ? `iteration ${last.iteration}` : "",
        }));
      }
      return element("tr", { "data-run": run.id }, cells);
    });
    $("status").replaceChildren(element("thead", {}, [head]), element("tbody", {}, rows));
  }

  function renderCheckpoints() {
    const rows = [];
    for (const run of selectedRuns()) {
      for (const record of run.checkpoints) {
        rows.push(element("tr", {}, [
          element("td", { text: run.label }), element("td", { text: record.iteration }),
          element("td", { className: record.exists ? "" : "missing", text: record.path,
                          title: record.exists ? "" : "the file is no longer there" }),
          element("td", { text: record.nonfinite ? "non-finite state" : "" }),
        ]));
      }
    }
    const table = element("table", {}, [
      element("thead", {}, [element("tr", {}, ["run", "iteration", "path", ""].map((t) => element("th", { text: t })))]),
      element("tbody", {}, rows),
    ]);
    $("checkpoints").replaceChildren(rows.length ? table : element("p", { className: "muted", text: "none recorded" }));
  }

  // -- charts --------------------------------------------------------------------------------------------------
  function chartBox(name) {
    const id = "chart-" + encodeURIComponent(name);
    let box = document.getElementById(id);
    if (!box) {
      box = element("div", { className: "chart", id, "data-channel": name }, [
        element("div", { className: "note" }), element("div", { className: "plot" }),
      ]);
    }
    return box;
  }

  function layoutFor(name) {
    const axisTitle = { iteration: "iterations", epoch: "epochs", time: "wall time" }[state.axis];
    return {
      title: { text: name, font: { size: 14 }, x: 0.01, xanchor: "left" }, margin: { l: 60, r: 16, t: 36, b: 40 },
      xaxis: { title: { text: axisTitle }, type: state.axis === "time" ? "date" : "linear",
               range: state.ranges[name] || undefined, autorange: state.ranges[name] ? false : true },
      yaxis: { automargin: true }, showlegend: false, // the runs' colours are in the side bar and the table
      uirevision: name + "|" + state.axis, hovermode: "x unified",
    };
  }

  async function fetchSeries(names) {
    const runs = selectedRuns();
    if (!runs.length || !names.length) return {};
    const params = [["axis", state.axis]];
    for (const run of runs) params.push(["run", run.id]);
    for (const name of names) params.push(["channel", name]);
    const width = Math.max(200, Math.min(4000, Math.round(($("charts").clientWidth || 1000))));
    params.push(["points", String(width * 4)]);
    const range = names.length === 1 ? state.ranges[names[0]] : null;
    if (range) {
      const toNumber = (v) => (typeof v === "string" ? Date.parse(v.replace(" ", "T") + "Z") - LOCAL_SHIFT : v);
      params.push(["low", String(toNumber(range[0]))], ["high", String(toNumber(range[1]))]);
    }
    return (await getJson("api/series", params)).series;
  }

  function draw(name, answer) {
    const box = chartBox(name);
    const plot = box.querySelector(".plot");
    const traces = [];
    const notes = [];
    for (const run of selectedRuns()) {
      const curve = answer[run.id] && answer[run.id][name];
      if (!curve) continue;
      if (curve.unavailable) notes.push(`${run.label}: ${curve.unavailable}`);
      if (curve.nonfinite) {
        notes.push(`${run.label}: ${curve.nonfinite} non-finite value(s) not drawn (first at iteration ` +
                   `${curve.first_nonfinite})`);
      }
      const x = state.axis === "time" ? curve.x.map((ms) => ms + LOCAL_SHIFT) : curve.x;
      traces.push({ x, y: curve.y, name: run.label, type: "scatter", mode: curve.x.length > 1 ? "lines" :
                    "markers", line: { color: colorOf(run.id), width: 1.5 }, marker: { color: colorOf(run.id) } });
    }
    box.querySelector(".note").textContent = notes.join("; ");
    window.Plotly.react(plot, traces, layoutFor(name), { displaylogo: false, responsive: true });
    if (!plot.dataset.listening) {
      plot.dataset.listening = "1";
      plot.on("plotly_relayout", (event) => {
        if (event["xaxis.autorange"]) delete state.ranges[name];
        else if (event["xaxis.range[0]"] !== undefined) state.ranges[name] = [event["xaxis.range[0]"],
                                                                               event["xaxis.range[1]"]];
        else return;
        fetchSeries([name]).then((series) => draw(name, series)).catch((err) => showErrors([String(err)]));
      });
    }
  }

  async function renderCharts(force) {
    const names = state.selectedChannels;
    const key = [state.axis, ...selectedRuns().map((r) => r.id + "@" + r.version), "|", ...names].join(",");
    const charts = $("charts");
    charts.replaceChildren(...names.map(chartBox));
    if (!force && key === state.seriesKey) return;
    const unzoomed = names.filter((name) => !state.ranges[name]);
    const zoomed = names.filter((name) => state.ranges[name]);
    const answer = await fetchSeries(unzoomed);
    for (const name of unzoomed) draw(name, answer);
    for (const name of zoomed) draw(name, await fetchSeries([name]));
    state.seriesKey = key;
    state.drawn += 1;
    document.body.dataset.drawn = String(state.drawn);
  }

  // -- the loop ------------------------------------------------------------------------------------------------
  function render() {
    renderRuns();
    renderChannels();
    renderStatus();
    renderCheckpoints();
    return renderCharts(false);
  }

  function updateAxisChoices() {
    const runs = selectedRuns();
    for (const option of $("axis").options) {
      option.disabled = runs.length > 0 && !runs.some((run) => run.axes[option.value]);
    }
  }

  async function refresh() {
    if (state.busy) return;
    state.busy = true;
    try {
      const answer = await getJson("api/runs");
      state.runs = answer.runs;
      if (state.selectedRuns === null) state.selectedRuns = new Set();
      select(answer.runs);
      if (state.selectedChannels === null || (!state.selectedChannels.length && allChannels(state.runs).length)) {
        state.selectedChannels = defaultChannels(allChannels(selectedRuns()));
      }
      const logErrors = answer.logs.filter((log) => log.error).map((log) => log.error);
      showErrors(logErrors);
      const logs = answer.logs.length;
      $("summary").textContent = `${logs} log${logs === 1 ? "" : "s"}, ${state.runs.length} run` +
                                 `${state.runs.length === 1 ? "" : "s"}`;
      updateAxisChoices();
      await render();
      state.updates += 1;
      document.body.dataset.updates = String(state.updates);
      document.body.dataset.ready = "1";
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (err) {
      showErrors([`cannot update from the dashboard server: ${err.message || err}`]);
    } finally {
      state.busy = false;
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    if (state.live) state.timer = setTimeout(() => refresh().finally(schedule), (settings.poll || 2) * 1000);
  }

  function start() {
    if (!window.Plotly) {
      showErrors(["plotly.js did not load from this server (static/plotly.min.js)"]);
      return;
    }
    $("axis").addEventListener("change", () => {
      state.axis = $("axis").value;
      state.ranges = {};
      state.seriesKey = "";
      render().catch((err) => showErrors([String(err)]));
    });
    $("live").addEventListener("change", () => { state.live = $("live").checked; if (state.live) refresh(); schedule(); });
    $("filter").addEventListener("input", renderChannels);
    refresh().finally(schedule);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
