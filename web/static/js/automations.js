// Automations: list (enable, snooze, last run), visual editor from type schemas, YAML, run now, traces.

import { ApiError, del, get, post, request } from "./api.js";
import { badge, button, clear, el, field, formatTime, notify } from "./dom.js";
import { objectForm, showFieldErrors } from "./forms.js";
import { toYaml } from "./yaml.js";

const KINDS = [
  { kind: "trigger", key: "triggers", title: "Triggers", help: "What starts it. Any one is enough." },
  { kind: "condition", key: "conditions", title: "Conditions", help: "Checks that must all pass." },
  { kind: "action", key: "actions", title: "Actions", help: "What it does, in order." },
];
const MODES = ["single", "restart", "queued", "parallel"];
const base = (id) => `/api/automations/${encodeURIComponent(id)}`;

/** `/api/automations/types` as {trigger: [...], condition: [...], action: [...]}. */
async function loadTypes() {
  const data = await get("/api/automations/types");
  const out = { trigger: [], condition: [], action: [] };
  const list = Array.isArray(data) ? data : Array.isArray(data.types) ? data.types : null;
  if (list) for (const t of list) out[t.kind]?.push(t);
  else for (const { kind, key } of KINDS) out[kind] = data[key] ?? data[kind] ?? [];
  for (const kind of Object.keys(out)) out[kind].sort((a, b) => a.name.localeCompare(b.name));
  return out;
}

function lastTriggered(a) {
  const when = a.last_triggered ?? a.last_run?.started ?? a.last_run;
  return typeof when === "number" ? formatTime(when, true) : "never";
}

// ---------------------------------------------------------------- list

async function renderList(container, ctx) {
  container.append(el("h1", { tabindex: "-1", text: "Automations" }));
  if (ctx.isAdmin()) container.append(el("p", {}, el("a", { className: "button", href: "#/automations/new", "data-testid": "new-automation" }, "New automation")));
  const list = el("ul", { className: "event-list auto-list", "data-testid": "automation-list" });
  container.append(list);
  const load = async () => {
    const data = await get("/api/automations");
    const automations = data.automations ?? data;
    clear(list, automations.length ? automations.map((a) => row(a)) : el("li", { className: "muted", text: "No automations yet." }));
  };
  const row = (a) => {
    const toggle = el("input", { type: "checkbox", checked: a.enabled !== false, disabled: !ctx.isAdmin(), "aria-label": `Enabled: ${a.alias ?? a.id}`, "data-testid": "automation-enabled" });
    toggle.addEventListener("change", async () => {
      try {
        await post(`${base(a.id)}/${toggle.checked ? "enable" : "disable"}`);
      } catch (error) {
        toggle.checked = !toggle.checked;
        notify(`Could not change it: ${error.message}`, "error");
      }
    });
    const snoozed = a.snoozed_until && a.snoozed_until * 1000 > Date.now();
    const snooze = el("select", { "aria-label": `Snooze ${a.alias ?? a.id}`, disabled: !ctx.isAdmin() }, [
      el("option", { value: "", text: snoozed ? `Snoozed until ${formatTime(a.snoozed_until)}` : "Not snoozed" }),
      el("option", { value: "0", text: "Wake now" }),
      ...[15, 60, 240, 720].map((m) => el("option", { value: String(m * 60), text: `Snooze ${m < 60 ? `${m} minutes` : `${m / 60} hour${m === 60 ? "" : "s"}`}` })),
    ]);
    snooze.addEventListener("change", async () => {
      if (snooze.value === "") return;
      try {
        const seconds = Number(snooze.value);
        await post(`${base(a.id)}/snooze`, seconds ? { seconds } : { until: null });
        await load();
      } catch (error) {
        notify(`Could not snooze: ${error.message}`, "error");
      }
    });
    return el(
      "li",
      { className: "event-row", "data-automation": a.id },
      field("On", toggle),
      el("a", { href: `#/automations/${encodeURIComponent(a.id)}`, className: "tile-name" }, a.alias ?? a.id),
      badge(a.state, "automation-state"),
      a.errors?.length ? el("span", { className: "field-error", text: a.errors.map((e) => `${e.path}: ${e.message}`).join("; ") }) : null,
      el("span", { className: "muted", "data-testid": "last-triggered" }, `Last triggered: ${lastTriggered(a)}`),
      snooze,
      el("a", { href: `#/automations/${encodeURIComponent(a.id)}/traces` }, "Runs"),
    );
  };
  await load();
  const onEvent = (message) => {
    if (/^automation/.test(message.detail?.event_type ?? "")) load().catch(() => {});
  };
  ctx.events.addEventListener("hub-event", onEvent);
  return () => ctx.events.removeEventListener("hub-event", onEvent);
}

// ---------------------------------------------------------------- editor

const capital = (text) => `${text[0].toUpperCase()}${text.slice(1)}`;

function blockEditor(types, kind, entry, path, index, onRemove, onMove) {
  const choices = types[kind];
  const select = el("select", { name: `${path}.type`, "data-testid": `${kind}-type` }, choices.map((t) => el("option", { value: t.name, text: t.title ?? t.name, selected: t.name === entry.type })));
  const typeField = field(`${capital(kind)} type`, select, { path: `${path}.type` });
  const description = el("p", { className: "hint" });
  const holder = el("div");
  const hooks = { blocks: (nestedKind, entries, nestedPath) => blockList(types, nestedKind, entries, nestedPath) };
  let form = null;
  const draw = (values) => {
    const type = choices.find((t) => t.name === select.value);
    description.textContent = type?.description ?? "";
    form = objectForm(type?.schema ?? { properties: {} }, values, path, type?.schema ?? {}, ["type"], hooks);
    clear(holder, form.node);
  };
  select.addEventListener("change", () => draw({}));
  draw(entry);
  const name = `${kind} ${index + 1}`;
  const node = el(
    "div",
    { className: "block", "data-testid": `${kind}-block`, "data-path": path },
    el("div", { className: "block-head" }, el("strong", { text: capital(name) }), el("span", { className: "toolbar" }, button("↑", () => onMove(-1), { "aria-label": `Move ${name} up` }), button("↓", () => onMove(1), { "aria-label": `Move ${name} down` }), button("Remove", onRemove, { "aria-label": `Remove ${name}` }))),
    typeField,
    description,
    holder,
  );
  return { node, read: () => ({ type: select.value, ...form.read() }) };
}

/** An editable list of typed blocks: the top-level triggers, conditions and actions, and the
 * lists nested in and/or/not, if/then/else, choose and wait_for_trigger. */
function blockList(types, kind, entries, basePath) {
  const list = el("div", { className: "block-list" });
  let current = (entries ?? []).map((entry) => ({ ...entry }));
  let blocks = [];
  const sync = () => {
    try {
      current = blocks.map((b) => b.read());
    } catch {
      /* kept as it was; the field shows what is wrong */
    }
  };
  const draw = (focusIndex = null) => {
    blocks = current.map((entry, index) =>
      blockEditor(
        types,
        kind,
        entry.type ? entry : { ...entry, type: types[kind][0]?.name },
        `${basePath}.${index}`,
        index,
        () => {
          sync();
          current.splice(index, 1);
          draw();
        },
        (delta) => {
          sync();
          const to = index + delta;
          if (to < 0 || to >= current.length) return;
          [current[index], current[to]] = [current[to], current[index]];
          draw(to);
        },
      ),
    );
    clear(list, blocks.map((b) => b.node));
    if (focusIndex !== null) blocks[focusIndex]?.node.querySelector("select")?.focus();
  };
  draw();
  const addSelect = el("select", { "aria-label": `Type of new ${kind}`, "data-testid": `add-${kind}-type` }, types[kind].map((t) => el("option", { value: t.name, text: t.title ?? t.name })));
  const add = types[kind].length
    ? el("p", { className: "toolbar" }, addSelect, button(`Add ${kind}`, () => {
        sync();
        current.push({ type: addSelect.value });
        draw(current.length - 1);
      }, { "data-testid": `add-${kind}` }))
    : el("p", { className: "muted", text: `No ${kind} types are installed.` });
  return { node: el("div", {}, list, add), read: () => blocks.map((b) => b.read()) };
}

/** YAML text -> data through the hub (`/api/yaml/parse`), with the line of every key path. */
async function parseYaml(text) {
  const answer = await post("/api/yaml/parse", { text });
  if (!answer.data || typeof answer.data !== "object" || Array.isArray(answer.data)) {
    throw new ApiError(422, "the YAML must be a mapping (id:, triggers:, actions: ...)", null);
  }
  return answer;
}

/** "line 7: triggers.0.camera: unknown camera" for each error, by the nearest known path. */
function errorsByLine(errors, lines) {
  return errors.map((e) => {
    let path = e.path;
    while (path && !(path in lines)) path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
    const where = path ? `line ${lines[path]}: ` : "";
    return el("li", { text: `${where}${e.path ? `${e.path}: ` : ""}${e.message}` });
  });
}

async function renderEditor(container, ctx, id, override = null, startInYaml = false) {
  const isNew = id === "new";
  const [types, existing] = await Promise.all([loadTypes(), isNew || override ? null : get(base(id))]);
  const automation = override ?? (existing ? { ...(existing.config ?? existing), enabled: existing.enabled } : { id: "", alias: "", mode: "single", enabled: true, triggers: [{}], conditions: [], actions: [{}] });
  const data = { triggers: [], conditions: [], actions: [], ...structuredClone(automation) };

  const idInput = el("input", { name: "id", value: data.id, readonly: !isNew, required: true, pattern: "[a-z0-9_\\-]+", autocapitalize: "none" });
  const alias = el("input", { name: "alias", value: data.alias ?? "" });
  const description = el("input", { name: "description", value: data.description ?? "" });
  const mode = el("select", { name: "mode" }, MODES.map((m) => el("option", { value: m, text: m, selected: m === data.mode })));
  const enabled = el("input", { type: "checkbox", name: "enabled", checked: data.enabled !== false });
  const enabledField = field("Enabled", enabled, { path: "enabled" });
  enabledField.classList.add("inline");
  enabledField.prepend(enabled);
  const general = el(
    "fieldset",
    {},
    el("legend", { text: "About" }),
    field("Id", idInput, { path: "id", hint: isNew ? "Lower-case letters, digits, - and _; used in URLs and traces." : "Cannot be changed." }),
    field("Name", alias, { path: "alias" }),
    field("Description", description, { path: "description" }),
    field("When it is triggered while running", mode, { path: "mode" }),
    enabledField,
  );

  const lists = {};
  const visual = el("div", { id: "panel-visual", role: "tabpanel", "aria-labelledby": "tab-visual" }, general);
  for (const info of KINDS) {
    lists[info.key] = blockList(types, info.kind, data[info.key] ?? [], info.key);
    visual.append(
      el(
        "fieldset",
        { "data-path": info.key },
        el("legend", { text: info.title }),
        el("p", { className: "hint", text: info.help }),
        el("p", { className: "field-error", "data-testid": "field-error", role: "alert" }),
        lists[info.key].node,
      ),
    );
  }

  function collect() {
    const out = {
      id: idInput.value.trim(),
      alias: alias.value.trim() || undefined,
      description: description.value.trim() || undefined,
      mode: mode.value,
      enabled: enabled.checked,
    };
    for (const [key, list] of Object.entries(lists)) out[key] = list.read();
    for (const key of ["max", "variables"]) if (data[key] !== undefined) out[key] = data[key];
    if (!out.conditions.length) delete out.conditions;
    return out;
  }


  // YAML tab: the same automation as the config file spells it. The hub parses it (nothing is
  // expanded), and errors come back with the line they are on.
  const yamlArea = el("textarea", { name: "yaml", rows: 18, spellcheck: "false", "data-testid": "automation-yaml", "aria-describedby": "yaml-note yaml-errors" });
  const yamlNote = el("p", { id: "yaml-note", className: "hint", text: "Edit here and save, or switch back to the visual editor. Anchors, aliases and ${VARIABLES} are not expanded." });
  const yamlErrors = el("ul", { id: "yaml-errors", className: "field-error", role: "alert", "data-testid": "yaml-errors" });
  const yamlPanel = el("div", { id: "panel-yaml", role: "tabpanel", "aria-labelledby": "tab-yaml", hidden: true }, field("YAML", yamlArea, { path: "yaml" }), yamlErrors, yamlNote);
  let yamlDirty = false;
  yamlArea.addEventListener("input", () => (yamlDirty = true));
  function fillYaml() {
    let current;
    try {
      current = collect();
    } catch {
      current = data;
    }
    yamlArea.value = toYaml(current);
    yamlDirty = false;
    clear(yamlErrors);
  }
  async function yamlToVisual() {
    // Rebuild the visual editor from what was typed, so both tabs show the same automation.
    const { data: typed } = await parseYaml(yamlArea.value);
    clear(container);
    await renderEditor(container, ctx, id, { ...typed, id: isNew ? typed.id : id });
  }

  const tabVisual = el("button", { type: "button", role: "tab", id: "tab-visual", "aria-selected": "true", "aria-controls": "panel-visual", "data-testid": "tab-visual", text: "Visual" });
  const tabYaml = el("button", { type: "button", role: "tab", id: "tab-yaml", "aria-selected": "false", "aria-controls": "panel-yaml", tabindex: "-1", "data-testid": "tab-yaml", text: "YAML" });
  const select = async (yaml) => {
    if (!yaml && yamlDirty) {
      try {
        await yamlToVisual();
      } catch (error) {
        clear(yamlErrors, errorsByLine(error instanceof ApiError && error.fieldErrors.length ? error.fieldErrors : [{ path: "", message: error.message }], {}));
      }
      return;
    }
    tabVisual.setAttribute("aria-selected", String(!yaml));
    tabYaml.setAttribute("aria-selected", String(yaml));
    tabVisual.tabIndex = yaml ? -1 : 0;
    tabYaml.tabIndex = yaml ? 0 : -1;
    visual.hidden = yaml;
    yamlPanel.hidden = !yaml;
    if (yaml) fillYaml();
  };
  tabVisual.addEventListener("click", () => select(false));
  tabYaml.addEventListener("click", () => select(true));
  for (const tab of [tabVisual, tabYaml]) {
    tab.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const other = tab === tabVisual ? tabYaml : tabVisual;
        other.focus();
        other.click();
      }
    });
  }

  const status = el("p", { className: "form-status", role: "alert", "data-testid": "form-status" });
  const form = el("form", { className: "automation-editor", novalidate: true, "data-testid": "automation-editor" }, el("div", { className: "tabs", role: "tablist", "aria-label": "Editor" }, tabVisual, tabYaml), visual, yamlPanel, status);
  const save = el("button", { type: "submit", className: "primary", "data-testid": "save-automation", text: "Save" });
  const actions = el("p", { className: "toolbar" }, save);
  if (!isNew) {
    const skip = el("input", { type: "checkbox", name: "skip_conditions" });
    const skipField = field("Skip the conditions", skip);
    skipField.classList.add("inline");
    skipField.prepend(skip);
    actions.append(
      button("Run now", async () => {
        try {
          await post(`${base(id)}/run`, { skip_conditions: skip.checked });
          notify("Started. Its run appears under Runs.");
        } catch (error) {
          notify(`Could not run it: ${error.message}`, "error");
        }
      }, { "data-testid": "run-now" }),
      skipField,
      el("a", { className: "button", href: `#/automations/${encodeURIComponent(id)}/traces`, "data-testid": "show-traces" }, "Runs"),
      button("Delete", async () => {
        if (!confirm(`Delete the automation “${data.alias ?? id}”?`)) return;
        try {
          await del(base(id));
          ctx.navigate("#/automations");
        } catch (error) {
          notify(`Could not delete: ${error.message}`, "error");
        }
      }, { className: "danger" }),
    );
  }
  form.append(actions);
  if (!ctx.isAdmin()) for (const control of form.querySelectorAll("input, select, textarea, button[type=submit]")) control.disabled = true;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    for (const fieldset of form.querySelectorAll("fieldset[data-path] > .field-error")) fieldset.textContent = "";
    clear(yamlErrors);
    let body;
    let lines = {};
    const yamlMode = !yamlPanel.hidden;
    try {
      if (yamlMode) ({ data: body, lines } = await parseYaml(yamlArea.value));
      else body = collect();
    } catch (error) {
      if (yamlMode) clear(yamlErrors, errorsByLine(error instanceof ApiError && error.fieldErrors.length ? error.fieldErrors : [{ path: "", message: error.message }], {}));
      else status.textContent = "Some fields are not valid; see the messages next to them.";
      return;
    }
    if (yamlMode && !isNew) body.id = id;
    if (!yamlMode && !body.id) {
      showFieldErrors(form, [{ path: "id", message: "Give it an id." }]);
      return;
    }
    save.disabled = true;
    try {
      const saved = isNew ? await request("POST", "/api/automations", body) : await request("PUT", base(id), body);
      const savedId = saved?.automation?.id ?? saved?.id ?? body.id ?? id;
      notify("Saved.");
      if (isNew) ctx.navigate(`#/automations/${encodeURIComponent(savedId)}`);
      else if (yamlMode) await yamlToVisual().then(() => container.querySelector('[data-testid="tab-yaml"]')?.click());
    } catch (error) {
      const errors = error instanceof ApiError ? error.fieldErrors : [];
      if (yamlMode) {
        clear(yamlErrors, errorsByLine(errors.length ? errors : [{ path: "", message: error.message }], lines));
        return;
      }
      if (!errors.length) {
        status.textContent = error.message;
        return;
      }
      const rest = showFieldErrors(visual, errors);
      for (const e of [...rest]) {
        const top = visual.querySelector(`fieldset[data-path="${CSS.escape(e.path.split(".")[0])}"] > .field-error`);
        if (top) top.textContent = e.message, rest.splice(rest.indexOf(e), 1);
      }
      status.textContent = rest.length ? rest.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ") : "Please fix the fields marked above.";
    } finally {
      save.disabled = !ctx.isAdmin();
    }
  });

  container.append(el("p", { className: "crumbs" }, el("a", { href: "#/automations", text: "All automations" })), el("h1", { tabindex: "-1", text: isNew ? "New automation" : data.alias ?? id }), form);
  if (startInYaml) await select(true);
  return null;
}

// ---------------------------------------------------------------- traces

function stepItem(step, kind) {
  const failed = Boolean(step.error) || step.state === "failed" || step.result === false;
  const state = kind === "condition" ? (step.error ? "error" : step.result ? "passed" : "not met") : step.state ?? (step.error ? "failed" : "done");
  const result = step.result && typeof step.result === "object" ? toYaml(step.result) : null;
  return el(
    "li",
    { "data-result": failed ? "error" : "ok", "data-testid": `trace-${kind}` },
    el("strong", { text: `${step.path} · ${step.type}${step.alias ? ` (${step.alias})` : ""}` }),
    " ",
    badge(state, `${kind}-state`),
    step.start ? el("span", { className: "muted", text: ` ${formatTime(step.start)}${step.end ? `, ${((step.end - step.start) * 1000).toFixed(0)} ms` : ""}` }) : null,
    step.error ? el("p", { className: "field-error", text: step.error }) : null,
    result ? el("pre", { className: "yaml", text: result }) : null,
  );
}

async function renderTraces(container, ctx, id) {
  container.append(el("p", { className: "crumbs" }, el("a", { href: `#/automations/${encodeURIComponent(id)}`, text: "Back to the automation" })), el("h1", { tabindex: "-1", text: `Runs of ${id}` }));
  const list = el("div", { "data-testid": "trace-list" });
  container.append(list);
  let shown = "";
  const load = async () => {
    const data = await get(`${base(id)}/traces`);
    const traces = data.traces ?? data;
    const text = JSON.stringify(traces);
    if (text === shown) return; // unchanged: keep open details and the reader's place
    shown = text;
    clear(
      list,
      traces.length
        ? traces.map((trace, index) =>
            el(
              "details",
              { className: "card", open: index === 0, "data-testid": "trace" },
              el("summary", {}, `${formatTime(trace.started, true)} · `, badge(trace.state, "trace-state"), ` · by ${trace.trigger?.trigger ?? trace.trigger?.platform ?? "run now"}`),
              trace.error ? el("p", { className: "field-error", text: trace.error }) : null,
              el("h3", { text: "Trigger" }),
              el("pre", { className: "yaml", text: toYaml(trace.trigger ?? {}) }),
              trace.conditions?.length ? [el("h3", { text: "Conditions" }), el("ol", { className: "trace-steps" }, trace.conditions.map((c) => stepItem(c, "condition")))] : null,
              el("h3", { text: "Steps" }),
              trace.steps?.length ? el("ol", { className: "trace-steps" }, trace.steps.map((step) => stepItem(step, "step"))) : el("p", { className: "muted", text: "No step ran." }),
            ),
          )
        : el("p", { className: "muted", text: "It has not run yet." }),
    );
  };
  await load();
  // Runs are not bus events: look again every few seconds while this page is open.
  const timer = setInterval(() => load().catch(() => {}), 3000);
  return () => clearInterval(timer);
}

export async function render(container, ctx, params) {
  if (params[1] === "traces") return renderTraces(container, ctx, params[0]);
  if (params[0]) return renderEditor(container, ctx, params[0]);
  return renderList(container, ctx);
}

