// @ts-check
// The automation editor: plain-language building blocks with pickers, ready-made recipes, the
// placeholders each trigger fills, and a YAML tab; automations from the config file read-only.

import { ApiError, del, get, post, request } from "./api.js";
import { button, clear, el, field, notify } from "./dom.js";
import { objectForm, showFieldErrors } from "./forms.js";
import { BlockScope, entityPicker, placeholderChips, typeLabel, typePicker } from "./pickers.js";
import { toYaml } from "./yaml.js";

/** @typedef {import("./types.js").AutomationType} AutomationType */
/** @typedef {import("./types.js").AutomationTypes} AutomationTypes */
/** @typedef {import("./types.js").AutomationChoices} AutomationChoices */
/** @typedef {import("./types.js").Automation} Automation */
/** @typedef {import("./types.js").Recipe} Recipe */
/** @typedef {{trigger: AutomationType[], condition: AutomationType[], action: AutomationType[]}} TypesByKind */

const KINDS = [
  { kind: "trigger", key: "triggers", title: "When", help: "What starts it. Any one of these is enough." },
  { kind: "condition", key: "conditions", title: "Only if", help: "Checks that must all pass (optional)." },
  { kind: "action", key: "actions", title: "Then", help: "What it does, in order." },
];
const MODES = [
  ["single", "Ignore it (the run going on finishes)"],
  ["restart", "Start over (the run going on stops)"],
  ["queued", "Run again after the run going on"],
  ["parallel", "Run alongside"],
];
// Drawn under "More options" rather than in the block's main fields.
const COMMON_KEYS = ["type", "id", "alias", "continue_on_error"];
const base = (/** @type {string} */ id) => `/api/automations/${encodeURIComponent(id)}`;
const capital = (/** @type {string} */ text) => `${text[0].toUpperCase()}${text.slice(1)}`;

/** @returns {Promise<{byKind: TypesByKind, common: Record<string, string>}>} */
async function loadTypes() {
  /** @type {AutomationTypes} */
  const data = await get("/api/automations/types");
  /** @type {TypesByKind} */
  const byKind = { trigger: [], condition: [], action: [] };
  for (const type of data.types) byKind[type.kind].push(type); // the hub's order: most used first
  return { byKind, common: data.common_placeholders };
}

/** An id from a name: "Person at the door" -> "person_at_the_door". */
export function slug(/** @type {string} */ text) {
  const out = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return out.slice(0, 60) || "automation";
}

/** What a new automation starts as: motion on the first camera tells the first notifier. */
function startingPoint(/** @type {AutomationChoices} */ choices) {
  const camera = choices.cameras[0]?.id;
  const notifier = (choices.notifiers.find((n) => n.running) ?? choices.notifiers[0])?.id;
  return {
    id: "",
    alias: camera ? `Motion on ${choices.cameras[0].name}` : "",
    mode: "single",
    enabled: true,
    triggers: [{ type: "motion", ...(camera ? { camera } : {}) }],
    conditions: [],
    actions: [{ type: "notify", ...(notifier ? { notifier } : {}), message: "Motion on {camera} at {time:%H:%M}" }],
  };
}

/** A recipe's automation with the first camera and notifier in its slots. */
export function fromRecipe(/** @type {Recipe} */ recipe, /** @type {AutomationChoices} */ choices) {
  const camera = choices.cameras[0]?.id ?? "";
  const notifier = (choices.notifiers.find((n) => n.running) ?? choices.notifiers[0])?.id ?? "";
  const slots = { [choices.recipe_slots.camera]: camera, [choices.recipe_slots.notifier]: notifier };
  const filled = JSON.parse(JSON.stringify(recipe.automation), (_, value) => (typeof value === "string" && value in slots ? slots[value] || undefined : value));
  return { id: "", mode: "single", enabled: true, conditions: [], ...filled };
}

/**
 * The editor's shared state: types, choices, and the triggers as they are now (for placeholders).
 */
class EditorState {
  /**
   * @param {TypesByKind} types
   * @param {Record<string, string>} common
   * @param {AutomationChoices} choices
   */
  constructor(types, common, choices) {
    this.types = types;
    this.common = common;
    this.choices = choices;
    /** @type {() => any[]} */
    this.triggers = () => [];
    /** @type {() => Record<string, unknown>} */
    this.variables = () => ({});
  }

  /** Placeholders every trigger of the automation fills now, with what they hold. */
  placeholders() {
    /** @type {Array<Record<string, string> | null>} */
    const filled = [];
    let triggers = [];
    try {
      triggers = this.triggers();
    } catch {
      /* a field is being fixed; offer what every run has */
    }
    for (const trigger of triggers) {
      const type = this.types.trigger.find((t) => t.name === trigger.type);
      if (type) filled.push(type.placeholders);
    }
    /** @type {Record<string, string>} */
    const out = { ...this.common };
    if (!filled.includes(null) && filled.length) {
      const [first, ...rest] = /** @type {Record<string, string>[]} */ (filled);
      for (const [name, what] of Object.entries(first)) if (rest.every((r) => name in r)) out[name] = what;
    }
    for (const name of Object.keys(this.variables() ?? {})) out[name] = "a variable of this automation";
    return /** @type {Array<[string, string]>} */ (Object.entries(out));
  }
}

/**
 * One trigger, condition or action: its type (plain words), its fields with pickers, and the
 * rarely needed keys under "More options".
 * @param {EditorState} state
 * @param {"trigger" | "condition" | "action"} kind
 * @param {Record<string, any>} entry
 * @param {string} path
 * @param {number} index
 * @param {() => void} onRemove
 * @param {(delta: number) => void} onMove
 */
function blockEditor(state, kind, entry, path, index, onRemove, onMove) {
  const choices = state.types[kind];
  const select = el(
    "select",
    { name: `${path}.type`, "data-testid": `${kind}-type` },
    choices.map((t) => el("option", { value: t.name, text: typeLabel(t), selected: t.name === entry.type })),
  );
  const heading = el("strong", { className: "block-title" });
  const description = el("p", { className: "hint" });
  const holder = el("div");
  const more = el("div");
  /** @type {{node: HTMLElement, read: () => Record<string, any>} | null} */
  let form = null;
  /** @type {() => Record<string, any>} */
  let readMore = () => ({});
  const draw = (/** @type {Record<string, any>} */ values) => {
    const type = choices.find((t) => t.name === select.value);
    heading.textContent = `${capital(kind)} ${index + 1}: ${typeLabel(type)}`;
    description.textContent = type?.description ?? "";
    const scope = new BlockScope(values.camera);
    const hooks = {
      blocks: (/** @type {"trigger" | "condition" | "action"} */ nestedKind, /** @type {any[]} */ entries, /** @type {string} */ nestedPath) =>
        blockList(state, nestedKind, entries, nestedPath),
      custom: (
        /** @type {string} */ name,
        /** @type {any} */ s,
        /** @type {any} */ value,
        /** @type {string} */ fieldPath,
        /** @type {boolean} */ required,
        /** @type {string} */ label,
      ) => entityPicker(name, s, value, fieldPath, required, label, { choices: state.choices, kind, type: select.value, scope }),
      template: (/** @type {HTMLTextAreaElement} */ input) => placeholderChips(input, () => state.placeholders()).node,
    };
    const schema = type?.schema ?? { properties: {} };
    form = objectForm(schema, values, path, schema, COMMON_KEYS, hooks);
    clear(holder, form.node);
    clear(more, moreOptions(kind, values, path).node);
  };
  /**
   * Step name, trigger id, "stop if this fails": kept out of the way.
   * @param {string} k
   * @param {Record<string, any>} values
   * @param {string} p
   */
  function moreOptions(k, values, p) {
    const parts = [];
    const alias = el("input", { name: `${p}.alias`, value: values.alias ?? "" });
    parts.push(field("Step name (shown in runs)", alias, { path: `${p}.alias` }));
    /** @type {HTMLInputElement | null} */
    let triggerId = null;
    /** @type {HTMLInputElement | null} */
    let stop = null;
    if (k === "trigger") {
      triggerId = el("input", { name: `${p}.id`, value: values.id ?? "" });
      parts.push(field("Trigger id", triggerId, { path: `${p}.id`, hint: "Optional; available to the actions as {trigger_id}." }));
    }
    if (k === "action") {
      // The hub goes on after a failed step unless told: say it that way round.
      stop = el("input", { type: "checkbox", name: `${p}.continue_on_error`, checked: values.continue_on_error === false });
      const stopField = field("Stop the automation if this step fails", stop, { path: `${p}.continue_on_error` });
      stopField.classList.add("inline");
      stopField.prepend(stop);
      parts.push(stopField);
    }
    if (k === "condition") parts.pop(); // conditions have no name key
    const node = parts.length ? el("details", { className: "more-options" }, el("summary", { text: "More options" }), parts) : el("span");
    readMore = () => ({
      ...(alias.value.trim() && k !== "condition" ? { alias: alias.value.trim() } : {}),
      ...(triggerId?.value.trim() ? { id: triggerId.value.trim() } : {}),
      ...(stop?.checked ? { continue_on_error: false } : {}),
    });
    return { node, read: readMore };
  }
  select.addEventListener("change", () => draw({}));
  draw(entry);
  const name = `${kind} ${index + 1}`;
  const node = el(
    "div",
    { className: "block", "data-testid": `${kind}-block`, "data-path": path },
    el(
      "div",
      { className: "block-head" },
      heading,
      el(
        "span",
        { className: "toolbar" },
        button("↑", () => onMove(-1), { "aria-label": `Move ${name} up` }),
        button("↓", () => onMove(1), { "aria-label": `Move ${name} down` }),
        button("Remove", onRemove, { "aria-label": `Remove ${name}` }),
      ),
    ),
    field(`${capital(kind)} type`, select, { path: `${path}.type` }),
    description,
    holder,
    more,
  );
  return { node, read: () => ({ type: select.value, ...(form ? form.read() : {}), ...readMore() }) };
}

/**
 * An editable list of blocks (the top-level ones, and those nested in and/or/not, if, choose
 * and wait_for_trigger), with a searchable "Add" list.
 * @param {EditorState} state
 * @param {"trigger" | "condition" | "action"} kind
 * @param {any[]} entries
 * @param {string} basePath
 */
function blockList(state, kind, entries, basePath) {
  const list = el("div", { className: "block-list" });
  /** @type {Array<Record<string, any>>} */
  let current = (entries ?? []).map((entry) => ({ ...entry }));
  /** @type {Array<{node: HTMLElement, read: () => Record<string, any>}>} */
  let blocks = [];
  const sync = () => {
    try {
      current = blocks.map((b) => b.read());
    } catch {
      /* kept as it was; the field shows what is wrong */
    }
  };
  const draw = (/** @type {number | null} */ focusIndex = null) => {
    blocks = current.map((entry, index) =>
      blockEditor(
        state,
        kind,
        entry.type ? entry : { ...entry, type: state.types[kind][0]?.name },
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
    clear(
      list,
      blocks.map((b) => b.node),
    );
    if (focusIndex !== null) /** @type {HTMLElement | null} */ (blocks[focusIndex]?.node.querySelector("select, input"))?.focus();
  };
  draw();
  if (!state.types[kind].length)
    return { node: el("div", {}, list, el("p", { className: "muted", text: `No ${kind} types are installed.` })), read: () => blocks.map((b) => b.read()) };
  const picker = typePicker(state.types[kind], kind, (type) => {
    sync();
    const camera = state.choices.cameras[0]?.id;
    // A new block that names a camera starts on the block above's camera, else the first.
    const previous = current.at(-1)?.camera ?? camera;
    const schema = type.schema.properties ?? {};
    current.push({ type: type.name, ...("camera" in schema && previous && kind !== "action" ? { camera: previous } : {}) });
    panel.hidden = true;
    add.setAttribute("aria-expanded", "false");
    draw(current.length - 1);
  });
  const panel = el("div", { className: "picker-panel", hidden: true }, picker.node);
  const add = button(
    `Add ${kind}`,
    () => {
      panel.hidden = !panel.hidden;
      add.setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) picker.focus();
    },
    { "data-testid": `add-${kind}`, "aria-expanded": "false" },
  );
  return { node: el("div", {}, list, el("p", { className: "toolbar" }, add), panel), read: () => blocks.map((b) => b.read()) };
}

/** YAML text -> data through the hub (`/api/yaml/parse`), with the line of every key path. */
async function parseYaml(/** @type {string} */ text) {
  /** @type {{data: any, lines: Record<string, number>}} */
  const answer = await post("/api/yaml/parse", { text });
  if (!answer.data || typeof answer.data !== "object" || Array.isArray(answer.data)) {
    throw new ApiError(422, "the YAML must be a mapping (id:, triggers:, actions: ...)", null);
  }
  return answer;
}

/** "line 7: triggers.0.camera: unknown camera" for each error, by the nearest known path. */
function errorsByLine(/** @type {Array<{path: string, message: string}>} */ errors, /** @type {Record<string, number>} */ lines) {
  return errors.map((e) => {
    let path = e.path;
    while (path && !(path in lines)) path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
    const where = path ? `line ${lines[path]}: ` : "";
    return el("li", { text: `${where}${e.path ? `${e.path}: ` : ""}${e.message}` });
  });
}

/**
 * The notice at the top of an automation defined in the config file: why it cannot be edited
 * here, and a button that reloads the file.
 * @param {Automation} automation
 * @param {any} ctx
 */
function fileNotice(automation, ctx) {
  const where = automation.defined_in ?? "the config file";
  return el(
    "div",
    { className: "card file-notice", "data-testid": "file-notice" },
    el(
      "p",
      {},
      el("strong", { text: `Defined in ${where}.` }),
      ` Change it there, then reload it here (or run camhub automations reload). You can still turn it on or off, snooze it and run it.`,
    ),
    button("Reload from config file", () => reloadFile(ctx), { "data-testid": "reload-file" }),
  );
}

/** POST /api/automations/reload and say what changed. */
export async function reloadFile(/** @type {any} */ ctx) {
  try {
    /** @type {import("./types.js").ReloadAnswer} */
    const answer = await post("/api/automations/reload");
    ctx.flash(`Reloaded from the config file: ${answer.summary}.`, "ok");
    ctx.navigate(location.hash);
  } catch (error) {
    const problems = error instanceof ApiError && error.fieldErrors.length ? error.fieldErrors.map((e) => e.message).join("; ") : error.message;
    notify(`Not reloaded (nothing changed): ${problems}`, "error");
  }
}

/**
 * @param {HTMLElement} container
 * @param {any} ctx
 * @param {string} id  "new" for a new automation.
 * @param {{override?: Record<string, any> | null, recipe?: string | null}} [options]
 */
export async function renderEditor(container, ctx, id, { override = null, recipe = null } = {}) {
  const isNew = id === "new";
  const [{ byKind, common }, choices, existing] = await Promise.all([
    loadTypes(),
    /** @type {Promise<AutomationChoices>} */ (get("/api/automations/choices")),
    isNew || override ? null : /** @type {Promise<Automation>} */ (get(base(id))),
  ]);
  const chosenRecipe = recipe ? choices.recipes.find((r) => r.id === recipe) : null;
  const start = chosenRecipe ? fromRecipe(chosenRecipe, choices) : startingPoint(choices);
  const automation = override ?? (existing ? { ...existing.config, enabled: existing.enabled } : start);
  const data = { triggers: [], conditions: [], actions: [], ...structuredClone(automation) };
  const readOnly = existing?.source === "file" || !ctx.isAdmin();
  const state = new EditorState(byKind, common, choices);

  const alias = el("input", { name: "alias", value: data.alias ?? "", required: true, "data-testid": "automation-name" });
  const idInput = el("input", {
    name: "id",
    value: data.id ?? "",
    readonly: !isNew,
    pattern: "[a-z0-9_\\-]+",
    autocapitalize: "none",
    "data-testid": "automation-id",
  });
  let idTouched = Boolean(data.id);
  idInput.addEventListener("input", () => (idTouched = true));
  alias.addEventListener("input", () => {
    if (isNew && !idTouched) idInput.value = alias.value.trim() ? slug(alias.value) : "";
  });
  if (isNew && !idInput.value && alias.value) idInput.value = slug(alias.value);
  const description = el("input", { name: "description", value: data.description ?? "" });
  const mode = el(
    "select",
    { name: "mode" },
    MODES.map(([value, text]) => el("option", { value, text, selected: value === (data.mode ?? "single") })),
  );
  const enabled = el("input", { type: "checkbox", name: "enabled", checked: data.enabled !== false });
  const enabledField = field("On", enabled, { path: "enabled" });
  enabledField.classList.add("inline");
  enabledField.prepend(enabled);
  const general = el(
    "fieldset",
    {},
    el("legend", { text: "About" }),
    field("Name", alias, { path: "alias", hint: "What you will see in the list and in notifications." }),
    enabledField,
    el(
      "details",
      { className: "more-options" },
      el("summary", { text: "More options" }),
      field("Id", idInput, {
        path: "id",
        hint: isNew ? "Made from the name; lower-case letters, digits, - and _. Used in URLs and runs." : "Cannot be changed.",
      }),
      field("Description", description, { path: "description" }),
      field("If it is triggered again while running", mode, { path: "mode" }),
    ),
  );

  /** @type {Record<string, {node: HTMLElement, read: () => any[]}>} */
  const lists = {};
  const visual = el("div", { id: "panel-visual", role: "tabpanel", "aria-labelledby": "tab-visual" }, general);
  for (const info of KINDS) {
    lists[info.key] = blockList(state, /** @type {"trigger" | "condition" | "action"} */ (info.kind), data[info.key] ?? [], info.key);
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
  state.triggers = () => lists.triggers.read();
  state.variables = () => data.variables ?? {};

  function collect() {
    const name = alias.value.trim();
    /** @type {Record<string, any>} */
    const out = {
      id: idInput.value.trim() || (isNew && name ? slug(name) : ""),
      alias: name || undefined,
      description: description.value.trim() || undefined,
      mode: mode.value,
      enabled: enabled.checked,
    };
    for (const [key, list] of Object.entries(lists)) out[key] = list.read();
    for (const key of ["max", "variables", "trace"]) if (data[key] !== undefined) out[key] = data[key];
    if (!out.conditions.length) delete out.conditions;
    return out;
  }

  // YAML tab: the same automation as the config file spells it. The hub parses it (nothing is
  // expanded), and errors come back with the line they are on.
  const yamlArea = el("textarea", {
    name: "yaml",
    rows: 18,
    spellcheck: "false",
    "data-testid": "automation-yaml",
    "aria-describedby": "yaml-note yaml-errors",
  });
  const yamlNote = el("p", {
    id: "yaml-note",
    className: "hint",
    text: "Edit here and save, or switch back to the visual editor. Anchors, aliases and ${VARIABLES} are not expanded.",
  });
  const yamlErrors = el("ul", { id: "yaml-errors", className: "field-error", role: "alert", "data-testid": "yaml-errors" });
  const yamlPanel = el(
    "div",
    { id: "panel-yaml", role: "tabpanel", "aria-labelledby": "tab-yaml", hidden: true },
    field("YAML", yamlArea, { path: "yaml" }),
    yamlErrors,
    yamlNote,
  );
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
    await renderEditor(container, ctx, id, { override: { ...typed, id: isNew ? typed.id : id } });
  }

  const tabVisual = el("button", {
    type: "button",
    role: "tab",
    id: "tab-visual",
    "aria-selected": "true",
    "aria-controls": "panel-visual",
    "data-testid": "tab-visual",
    text: "Visual",
  });
  const tabYaml = el("button", {
    type: "button",
    role: "tab",
    id: "tab-yaml",
    "aria-selected": "false",
    "aria-controls": "panel-yaml",
    tabindex: "-1",
    "data-testid": "tab-yaml",
    text: "YAML",
  });
  const select = async (/** @type {boolean} */ yaml) => {
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
  const form = el(
    "form",
    { className: "automation-editor", novalidate: true, "data-testid": "automation-editor" },
    el("div", { className: "tabs", role: "tablist", "aria-label": "Editor" }, tabVisual, tabYaml),
    visual,
    yamlPanel,
    status,
  );
  const save = el("button", { type: "submit", className: "primary", "data-testid": "save-automation", text: "Save" });
  const toolbar = el("p", { className: "toolbar" }, readOnly ? null : save);
  if (!isNew) {
    const skip = el("input", { type: "checkbox", name: "skip_conditions" });
    const skipField = field("Skip the conditions", skip);
    skipField.classList.add("inline");
    skipField.prepend(skip);
    toolbar.append(
      button(
        "Run now",
        async () => {
          try {
            await post(`${base(id)}/run`, { skip_conditions: skip.checked });
            notify("Started. Its run appears under Runs.", "ok");
          } catch (error) {
            notify(`Could not run it: ${error.message}`, "error");
          }
        },
        { "data-testid": "run-now" },
      ),
      skipField,
      el("a", { className: "button", href: `#/automations/${encodeURIComponent(id)}/traces`, "data-testid": "show-traces" }, "Runs"),
      existing?.source === "file"
        ? null
        : button(
            "Delete",
            async () => {
              if (!confirm(`Delete the automation “${data.alias ?? id}”?`)) return;
              try {
                await del(base(id));
                ctx.flash(`Deleted “${data.alias ?? id}”.`, "ok");
                ctx.navigate("#/automations");
              } catch (error) {
                notify(`Could not delete: ${error.message}`, "error");
              }
            },
            { className: "danger" },
          ),
    );
  }
  form.append(toolbar);
  if (readOnly) {
    for (const control of form.querySelectorAll(
      "#panel-visual input, #panel-visual select, #panel-visual textarea, #panel-visual button, textarea[name=yaml]",
    )) {
      /** @type {HTMLInputElement} */ (control).disabled = true;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    for (const fieldset of form.querySelectorAll("fieldset[data-path] > .field-error")) fieldset.textContent = "";
    clear(yamlErrors);
    /** @type {Record<string, any>} */
    let body;
    /** @type {Record<string, number>} */
    let lines = {};
    const yamlMode = !yamlPanel.hidden;
    try {
      if (yamlMode) ({ data: body, lines } = await parseYaml(yamlArea.value));
      else body = collect();
    } catch (error) {
      if (yamlMode)
        clear(yamlErrors, errorsByLine(error instanceof ApiError && error.fieldErrors.length ? error.fieldErrors : [{ path: "", message: error.message }], {}));
      else status.textContent = "Some fields are not valid; see the messages next to them.";
      return;
    }
    if (yamlMode && !isNew) body.id = id;
    if (!yamlMode && !body.id) {
      showFieldErrors(form, [{ path: "alias", message: "Give it a name." }]);
      return;
    }
    save.disabled = true;
    try {
      /** @type {Automation} */
      const saved = isNew ? await request("POST", "/api/automations", body) : await request("PUT", base(id), body);
      if (isNew) {
        // Shown on the page we land on: the navigation clears this one.
        ctx.flash(`Saved “${saved.alias ?? saved.id}”. It is in use now.`, "ok");
        ctx.navigate(`#/automations/${encodeURIComponent(saved.id)}`);
        return;
      }
      notify("Saved. It is in use now.", "ok");
      if (yamlMode) await yamlToVisual().then(() => /** @type {HTMLElement | null} */ (container.querySelector('[data-testid="tab-yaml"]'))?.click());
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
        if (top) ((top.textContent = e.message), rest.splice(rest.indexOf(e), 1));
      }
      status.textContent = rest.length ? rest.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ") : "Please fix the fields marked above.";
    } finally {
      save.disabled = false;
    }
  });

  const title = isNew ? (chosenRecipe ? chosenRecipe.title : "New automation") : (data.alias ?? id);
  container.append(el("p", { className: "crumbs" }, el("a", { href: "#/automations", text: "All automations" })), el("h1", { tabindex: "-1", text: title }));
  if (existing?.source === "file") container.append(fileNotice(existing, ctx));
  container.append(form);
  return null;
}
