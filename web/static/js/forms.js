// @ts-check
// Forms from JSON schema (pydantic's model_json_schema): each field knows its data path for errors.

import { clear, el, field, setFieldError } from "./dom.js";

function resolve(schema, root) {
  let node = schema ?? {};
  for (let guard = 0; node.$ref && guard < 10; guard += 1) {
    const name = node.$ref.split("/").pop();
    node = { ...(root.$defs?.[name] ?? root.definitions?.[name] ?? {}), ...node, $ref: undefined };
  }
  // Optional[X] is anyOf [X, null]: the form shows X and leaves it empty for null.
  const options = node.anyOf ?? node.oneOf;
  if (Array.isArray(options)) {
    const real = options.filter((o) => o.type !== "null");
    if (real.length === 1) return { ...resolve(real[0], root), title: node.title, description: node.description, default: node.default, nullable: true };
    const consts = real.map((o) => resolve(o, root));
    if (consts.every((o) => o.const !== undefined || o.enum))
      return { ...node, enum: consts.flatMap((o) => o.enum ?? [o.const]), nullable: real.length < options.length };
    // Several shapes (e.g. number or string): take it as text and let the server decide.
    return { ...node, type: "string", nullable: real.length < options.length, loose: true };
  }
  if (node.const !== undefined && !node.enum) return { ...node, enum: [node.const] };
  return node;
}

// Lists of free-form mappings under these names are lists of typed automation blocks.
const BLOCK_KIND = { triggers: "trigger", conditions: "condition", actions: "action", then: "action", else: "action", default: "action" };

function titleOf(name, schema) {
  if (schema.title && schema.title.toLowerCase().replace(/ /g, "_") !== name) return schema.title;
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A control for one property; returns {node, read()} where read() gives the value or undefined. */
function control(name, schema, value, path, root, required, hooks) {
  const s = resolve(schema, root);
  const label = `${titleOf(name, s)}${required ? "" : " (optional)"}`;
  const hint = s.description;
  const initial = value ?? s.default;
  // Fields that name things the hub has (cameras, notifiers...) become pickers.
  const custom = hooks.custom?.(name, s, value, path, required, label);
  if (custom) return custom;
  if (s.enum) {
    const select = el(
      "select",
      { name: path },
      required && initial !== undefined ? null : el("option", { value: "", text: "—" }),
      s.enum.map((option) => el("option", { value: JSON.stringify(option), text: String(option), selected: option === initial })),
    );
    return { node: field(label, select, { hint, path }), read: () => (select.value === "" ? undefined : JSON.parse(select.value)) };
  }
  if (s.type === "boolean") {
    const box = el("input", { type: "checkbox", name: path, checked: Boolean(initial) });
    const node = field(label, box, { hint, path });
    node.classList.add("inline");
    node.prepend(box);
    return { node, read: () => box.checked };
  }
  if (s.type === "integer" || s.type === "number") {
    const input = el("input", {
      type: "number",
      name: path,
      inputmode: "decimal",
      step: s.type === "integer" ? "1" : "any",
      min: s.minimum ?? s.exclusiveMinimum,
      max: s.maximum ?? s.exclusiveMaximum,
      value: initial ?? "",
    });
    return { node: field(label, input, { hint, path }), read: () => (input.value === "" ? undefined : Number(input.value)) };
  }
  if (s.type === "array") {
    const items = resolve(s.items ?? {}, root);
    const kind = BLOCK_KIND[name];
    if (kind && hooks.blocks && items.type === "object" && !items.properties) {
      const inner = hooks.blocks(kind, initial ?? [], path);
      const node = el(
        "fieldset",
        { className: "nested", "data-path": path },
        el("legend", { text: label }),
        hint ? el("p", { className: "hint", text: hint }) : null,
        el("p", { className: "field-error", role: "alert" }),
        inner.node,
      );
      return { node, read: () => inner.read() };
    }
    if (items.type === "object" && items.properties) return objectList(label, hint, items, initial ?? [], path, root, hooks);
    if (items.enum) {
      const select = el(
        "select",
        { name: path, multiple: true, size: Math.min(6, items.enum.length) },
        items.enum.map((o) => el("option", { value: JSON.stringify(o), text: String(o), selected: (initial ?? []).includes(o) })),
      );
      return {
        node: field(label, select, { hint, path }),
        read: () => {
          const picked = [...select.selectedOptions].map((o) => JSON.parse(o.value));
          return picked.length || required ? picked : undefined;
        },
      };
    }
    if (items.type === "string" || items.type === "number" || items.type === "integer" || !items.type) {
      const input = el("input", { name: path, value: (initial ?? []).join(", ") });
      const numeric = items.type === "number" || items.type === "integer";
      return {
        node: field(label, input, { hint: `${hint ? `${hint} ` : ""}Separate several with commas.`, path }),
        read: () => {
          const parts = input.value
            .split(",")
            .map((p) => p.trim())
            .filter(Boolean);
          if (!parts.length && !required) return undefined;
          return numeric ? parts.map(Number) : parts;
        },
      };
    }
  }
  if (s.type === "object" && s.properties) {
    const inner = objectForm(s, initial ?? {}, path, root, [], hooks);
    return { node: el("fieldset", { "data-path": path }, el("legend", { text: label }), inner.node), read: inner.read };
  }
  if (s.type === "object" || s.type === "array") {
    // Free-form data: JSON text, checked when read.
    const area = el("textarea", { name: path, rows: 3, value: initial === undefined ? "" : JSON.stringify(initial, null, 2) });
    const node = field(label, area, { hint: `${hint ? `${hint} ` : ""}As JSON.`, path });
    return {
      node,
      read: () => {
        if (!area.value.trim()) return undefined;
        try {
          return JSON.parse(area.value);
        } catch {
          setFieldError(node, "This is not valid JSON.");
          throw new Error("invalid JSON");
        }
      },
    };
  }
  const template = s.format === "template";
  const multiline = template || s.format === "textarea" || name === "body" || name === "message";
  const input = multiline
    ? el("textarea", { name: path, rows: 3, value: initial ?? "" })
    : el("input", { name: path, type: s.format === "password" ? "password" : "text", value: initial ?? "", placeholder: s.examples?.[0] ?? null });
  if (multiline) input.classList.add("short");
  const node = field(label, input, { hint, path });
  // A template offers the placeholders its automation's triggers fill, as buttons.
  if (template && hooks.template) node.append(hooks.template(input));
  return {
    node,
    read: () => {
      if (input.value === "") return undefined;
      if (s.loose && input.value.trim() !== "" && !Number.isNaN(Number(input.value))) return Number(input.value);
      return input.value;
    },
  };
}

/** A list of sub-forms (e.g. the branches of `choose`), with add and remove. */
function objectList(label, hint, items, initial, path, root, hooks) {
  const list = el("div");
  let current = initial.map((v) => ({ ...v }));
  let forms = [];
  const sync = () => {
    try {
      current = forms.map((f) => f.read());
    } catch {
      /* kept; the field shows what is wrong */
    }
  };
  const draw = () => {
    forms = current.map((value, index) => objectForm(items, value, `${path}.${index}`, root, [], hooks));
    clear(
      list,
      forms.map((form, index) =>
        el(
          "div",
          { className: "block" },
          el(
            "div",
            { className: "block-head" },
            el("strong", { text: `${label} ${index + 1}` }),
            el("button", { type: "button", "aria-label": `Remove ${label} ${index + 1}`, onclick: () => (sync(), current.splice(index, 1), draw()) }, "Remove"),
          ),
          form.node,
        ),
      ),
    );
  };
  draw();
  const node = el(
    "fieldset",
    { className: "nested", "data-path": path },
    el("legend", { text: label }),
    hint ? el("p", { className: "hint", text: hint }) : null,
    el("p", { className: "field-error", role: "alert" }),
    list,
    el("button", { type: "button", onclick: () => (sync(), current.push({}), draw()) }, `Add to ${label.replace(/ \(optional\)$/, "")}`),
  );
  return { node, read: () => forms.map((f) => f.read()) };
}

/** A form for an object schema; `skip` lists properties drawn elsewhere (like `type`);
 * `hooks.blocks(kind, entries, path)` draws nested lists of triggers, conditions or actions. */
export function objectForm(schema, value, basePath, root = schema, skip = [], hooks = {}) {
  const s = resolve(schema, root);
  const required = new Set(s.required ?? []);
  const parts = Object.entries(s.properties ?? {})
    .filter(([name]) => !skip.includes(name))
    .map(([name, prop]) => [name, control(name, prop, value?.[name], basePath ? `${basePath}.${name}` : name, root, required.has(name), hooks)]);
  const node = el(
    "div",
    { className: "schema-form" },
    parts.map(([, part]) => part.node),
  );
  return {
    node,
    read() {
      const out = {};
      for (const [name, part] of parts) {
        const v = part.read();
        // A value left at its default is not written: the YAML stays what the person chose,
        // unless the automation had it written already.
        const fallback = resolve(s.properties[name], root).default;
        const unchanged = fallback !== undefined && JSON.stringify(v) === JSON.stringify(fallback);
        if (v !== undefined && !(unchanged && !required.has(name) && !(value && name in value))) out[name] = v;
      }
      return out;
    },
  };
}

/** Puts API field errors next to the fields whose data-path matches best; returns what did not fit. */
export function showFieldErrors(root, errors) {
  for (const wrapper of root.querySelectorAll("[data-path].has-error")) setFieldError(wrapper, "");
  const unplaced = [];
  for (const error of errors) {
    let path = error.path;
    let wrapper = null;
    while (path && !wrapper) {
      const quoted = CSS.escape(path);
      wrapper = root.querySelector(`.field[data-path="${quoted}"], fieldset[data-path="${quoted}"]`);
      path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
    }
    if (wrapper) setFieldError(wrapper, error.message);
    else unplaced.push(error);
  }
  root.querySelector(".field.has-error input, .field.has-error select, .field.has-error textarea")?.focus();
  return unplaced;
}
