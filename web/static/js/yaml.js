// @ts-check
// A small YAML writer for showing automations as the config file spells them (read-only view).

const PLAIN = /^[A-Za-z_][\w .\-/:]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|-?\d[\d_.eE+-]*)$/i;

function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  const text = String(value);
  if (PLAIN.test(text) && !RESERVED.test(text) && !text.endsWith(":") && !text.includes(": ") && !text.includes(" #")) return text;
  return JSON.stringify(text);
}

function isScalar(value) {
  return value === null || typeof value !== "object";
}

export function toYaml(value, indent = "") {
  if (isScalar(value)) return `${scalar(value)}\n`;
  if (Array.isArray(value)) {
    if (!value.length) return "[]\n";
    return value
      .map((item) => {
        if (isScalar(item)) return `${indent}- ${scalar(item)}\n`;
        const body = toYaml(item, `${indent}  `);
        return `${indent}- ${body.slice(indent.length + 2)}`;
      })
      .join("");
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (!entries.length) return "{}\n";
  return entries
    .map(([key, item]) => {
      if (isScalar(item) || (Array.isArray(item) && !item.length) || (!Array.isArray(item) && !Object.keys(item).length)) {
        return `${indent}${scalar(key)}: ${toYaml(item).trimEnd()}\n`;
      }
      return `${indent}${scalar(key)}:\n${toYaml(item, Array.isArray(item) ? indent : `${indent}  `)}`;
    })
    .join("");
}
