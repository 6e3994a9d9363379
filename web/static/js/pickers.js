// @ts-check
// The automation editor's pickers: a searchable list of types, and fields that offer the hub's
// cameras, zones, labels, notifiers and modes instead of asking the person to type ids.

import { clear, el, field } from "./dom.js";

/** @typedef {import("./types.js").AutomationType} AutomationType */
/** @typedef {import("./types.js").AutomationChoices} AutomationChoices */
/** @typedef {import("./types.js").JsonSchema} JsonSchema */

/** "🏃 Motion detected" */
export function typeLabel(/** @type {AutomationType | undefined} */ type) {
  if (!type) return "";
  return `${type.icon ? `${type.icon} ` : ""}${type.title}`;
}

/**
 * A searchable list of types: a filter box and one button per type (icon, plain title, one line
 * of description). `onPick(type)` is called with the chosen one.
 * @param {AutomationType[]} types
 * @param {string} kind
 * @param {(type: AutomationType) => void} onPick
 */
export function typePicker(types, kind, onPick) {
  const search = el("input", {
    type: "search",
    "aria-label": `Search ${kind} types`,
    placeholder: "Search…",
    "data-testid": `${kind}-search`,
    autocomplete: "off",
  });
  const list = el("ul", { className: "type-list", "data-testid": `${kind}-choices` });
  const draw = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = types.filter((t) => {
      const text = `${t.title} ${t.description} ${t.name}`.toLowerCase();
      return words.every((word) => text.includes(word));
    });
    clear(
      list,
      shown.length
        ? shown.map((t) =>
            el(
              "li",
              {},
              el(
                "button",
                { type: "button", className: "type-choice", "data-type": t.name, onclick: () => onPick(t) },
                el("span", { className: "type-icon", "aria-hidden": "true", text: t.icon || "•" }),
                el("span", { className: "type-text" }, el("strong", { text: t.title }), el("span", { className: "hint", text: t.description })),
              ),
            ),
          )
        : el("li", { className: "muted", text: "Nothing matches." }),
    );
  };
  search.addEventListener("input", draw);
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      /** @type {HTMLButtonElement | null} */ (list.querySelector("button"))?.click();
    }
  });
  draw();
  return { node: el("div", { className: "type-picker", "data-testid": `${kind}-picker` }, search, list), focus: () => search.focus() };
}

/**
 * What a block's fields share: the camera chosen in it, so its zone and label pickers follow.
 */
export class BlockScope extends EventTarget {
  /** @param {string | undefined} camera */
  constructor(camera) {
    super();
    this.camera = camera || "";
  }

  /** @param {string} camera */
  setCamera(camera) {
    this.camera = camera;
    this.dispatchEvent(new Event("camera"));
  }
}

/**
 * @param {HTMLSelectElement} select
 * @param {Array<[string, string] | {group: string, options: Array<[string, string]>}>} options  [value, text]
 * @param {string[]} chosen
 */
function fill(select, options, chosen) {
  const known = new Set();
  const option = (/** @type {[string, string]} */ [value, text]) => {
    known.add(value);
    return el("option", { value, text, selected: chosen.includes(value) });
  };
  const nodes = options.map((item) =>
    Array.isArray(item) ? option(item) : item.options.length ? el("optgroup", { label: item.group }, item.options.map(option)) : null,
  );
  // A value the hub does not know (a camera removed since) stays visible and chosen: nothing is lost.
  for (const value of chosen) if (value && !known.has(value)) nodes.push(el("option", { value, text: `${value} (not found on this hub)`, selected: true }));
  clear(select, nodes);
}

/**
 * @typedef {object} PickerContext
 * @property {AutomationChoices} choices
 * @property {string} kind  trigger, condition or action
 * @property {string} type  The block's type name.
 * @property {BlockScope} scope
 */

const MODE_TYPES = new Set(["mode", "set_mode"]);

/**
 * A picker for a field named like an entity (camera, zone, label, notifier, mode), or null to
 * let the generic form draw it. Returns {node, read} like forms.js controls.
 * @param {string} name
 * @param {JsonSchema} s  The resolved schema of the field.
 * @param {any} initial
 * @param {string} path
 * @param {boolean} required
 * @param {string} label
 * @param {PickerContext} ctx
 */
export function entityPicker(name, s, initial, path, required, label, ctx) {
  const { choices, kind, type, scope } = ctx;
  const many = s.type === "array";
  const scalar = s.type === "string" || (many && (s.items?.type === "string" || !s.items?.type));
  if (!scalar) return null;
  const cameraOf = () => choices.cameras.find((c) => c.id === scope.camera);
  /** @type {() => Array<[string, string] | {group: string, options: Array<[string, string]>}>} */
  let options;
  let none = "—";
  if (name === "camera" && !many) {
    options = () => choices.cameras.map((c) => [c.id, c.name === c.id ? c.id : `${c.name} (${c.id})`]);
    none = kind === "action" ? "The trigger's camera" : "Any camera";
  } else if (name === "notifier" && !many) {
    options = () => choices.notifiers.map((n) => [n.id, `${n.id} (${n.type}${n.running ? "" : ", not running"})`]);
  } else if (name === "zone") {
    options = () => {
      const camera = cameraOf();
      const zones = camera ? camera.zones : [...new Set(choices.cameras.flatMap((c) => c.zones))];
      return zones.map((z) => [z, z]);
    };
    none = "Anywhere in the picture";
  } else if (name === "label") {
    options = () => {
      const camera = cameraOf();
      const cameras = camera ? [camera] : choices.cameras;
      const labels = [...new Set(cameras.flatMap((c) => c.labels))];
      const more = [...new Set(cameras.flatMap((c) => c.detector_labels))].filter((l) => !labels.includes(l));
      return [
        ...labels.map((l) => /** @type {[string, string]} */ ([l, l])),
        { group: "The detector knows these too (add them to the camera's objects.labels to make events)", options: more.map((l) => [l, l]) },
      ];
    };
    none = "Anything it detects";
  } else if ((name === "mode" || name === "to" || name === "from") && MODE_TYPES.has(type)) {
    options = () => choices.modes.map((m) => [m, m]);
    none = name === "mode" ? "—" : "Any mode";
  } else {
    return null;
  }
  const select = el("select", { name: path, multiple: many, size: many ? 4 : null });
  const chosen = () => (many ? (Array.isArray(initial) ? initial : initial ? [initial] : []) : [initial ?? ""]).map(String);
  let current = chosen();
  const draw = () => fill(select, [...(many || required ? [] : [/** @type {[string, string]} */ (["", none])]), ...options()], current);
  draw();
  if (name === "camera") {
    scope.camera = select.value;
    select.addEventListener("change", () => scope.setCamera(select.value));
  } else if (name === "zone" || name === "label") {
    scope.addEventListener("camera", () => {
      current = [...select.selectedOptions].map((o) => o.value);
      draw();
    });
  }
  const hint = many ? `${s.description ?? ""} Pick one or more (Ctrl or ⌘ to pick several).`.trim() : s.description;
  return {
    node: field(label, select, { hint, path }),
    read: () => {
      if (many) {
        const values = [...select.selectedOptions].map((o) => o.value);
        return values.length ? values : undefined;
      }
      return select.value === "" ? undefined : select.value;
    },
  };
}

/**
 * Buttons that put a {placeholder} into a template field at the cursor; `names()` gives what
 * the automation's triggers fill right now.
 * @param {HTMLTextAreaElement | HTMLInputElement} input
 * @param {() => Array<[string, string]>} names  [name, what it holds]
 */
export function placeholderChips(input, names) {
  const box = el("p", { className: "chips", "data-testid": "placeholders" });
  const draw = () => {
    const list = names();
    clear(
      box,
      el("span", { className: "hint", text: list.length ? "Insert: " : "" }),
      list.map(([name, what]) =>
        el(
          "button",
          {
            type: "button",
            className: "chip",
            title: what,
            "aria-label": `Insert {${name}}: ${what}`,
            onclick: () => {
              const token = `{${name}}`;
              const start = input.selectionStart ?? input.value.length;
              const end = input.selectionEnd ?? start;
              input.value = `${input.value.slice(0, start)}${token}${input.value.slice(end)}`;
              input.focus();
              input.setSelectionRange(start + token.length, start + token.length);
              input.dispatchEvent(new Event("input", { bubbles: true }));
            },
          },
          `{${name}}`,
        ),
      ),
    );
  };
  draw();
  input.addEventListener("focus", draw);
  return { node: box, redraw: draw };
}
