// @ts-check
// Automations: the list (on/off, snooze, last run, where each is defined), recipes, and runs.

import { renderEditor, reloadFile } from "./automation_editor.js";
import { get, post } from "./api.js";
import { badge, clear, el, field, formatTime, notify } from "./dom.js";
import { toYaml } from "./yaml.js";

/** @typedef {import("./types.js").Automation} Automation */
/** @typedef {import("./types.js").AutomationChoices} AutomationChoices */

const base = (/** @type {string} */ id) => `/api/automations/${encodeURIComponent(id)}`;

function lastTriggered(/** @type {Automation} */ a) {
  return typeof a.last_triggered === "number" ? formatTime(a.last_triggered, true) : "never";
}

/** "Start from a recipe": a card per ready-made automation. */
function recipeList(/** @type {AutomationChoices} */ choices) {
  return el(
    "section",
    { className: "recipes", "aria-labelledby": "recipes-title", "data-testid": "recipes" },
    el("h2", { id: "recipes-title", text: "Start from a recipe" }),
    el(
      "ul",
      { className: "recipe-list" },
      choices.recipes.map((recipe) =>
        el(
          "li",
          { className: "card" },
          el("a", { href: `#/automations/recipe/${encodeURIComponent(recipe.id)}`, "data-recipe": recipe.id }, el("strong", { text: recipe.title })),
          el("p", { className: "hint", text: recipe.description }),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- list

async function renderList(/** @type {HTMLElement} */ container, /** @type {any} */ ctx) {
  container.append(el("h1", { tabindex: "-1", text: "Automations" }));
  /** @type {AutomationChoices} */
  const choices = await get("/api/automations/choices");
  if (ctx.isAdmin()) {
    container.append(
      el(
        "p",
        { className: "toolbar" },
        el("a", { className: "button primary", href: "#/automations/new", "data-testid": "new-automation" }, "New automation"),
        el("button", { type: "button", "data-testid": "reload-file", onclick: () => reloadFile(ctx) }, `Reload from ${choices.defined_in}`),
      ),
    );
  }
  const list = el("ul", { className: "event-list auto-list", "data-testid": "automation-list" });
  container.append(list);
  if (ctx.isAdmin()) container.append(recipeList(choices));
  const load = async () => {
    /** @type {{automations: Automation[]}} */
    const data = await get("/api/automations");
    const automations = data.automations;
    clear(
      list,
      automations.length
        ? automations.map((a) => row(a))
        : el("li", { className: "muted", text: "No automations yet: start with New automation or a recipe below." }),
    );
  };
  const row = (/** @type {Automation} */ a) => {
    const toggle = el("input", {
      type: "checkbox",
      checked: a.enabled !== false,
      disabled: !ctx.isAdmin(),
      "aria-label": `Enabled: ${a.alias ?? a.id}`,
      "data-testid": "automation-enabled",
    });
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
      ...[15, 60, 240, 720].map((m) =>
        el("option", { value: String(m * 60), text: `Snooze ${m < 60 ? `${m} minutes` : `${m / 60} hour${m === 60 ? "" : "s"}`}` }),
      ),
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
      a.source === "file"
        ? el("span", { className: "tag", "data-testid": "defined-in", title: "Edit it in the config file, then reload" }, `in ${a.defined_in}`)
        : null,
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

// ---------------------------------------------------------------- traces

function stepItem(step, kind) {
  const failed = Boolean(step.error) || step.state === "failed" || step.result === false;
  const state = kind === "condition" ? (step.error ? "error" : step.result ? "passed" : "not met") : (step.state ?? (step.error ? "failed" : "done"));
  const result = step.result && typeof step.result === "object" ? toYaml(step.result) : null;
  return el(
    "li",
    { "data-result": failed ? "error" : "ok", "data-testid": `trace-${kind}` },
    el("strong", { text: `${step.path} · ${step.type}${step.alias ? ` (${step.alias})` : ""}` }),
    " ",
    badge(state, `${kind}-state`),
    step.start
      ? el("span", { className: "muted", text: ` ${formatTime(step.start)}${step.end ? `, ${((step.end - step.start) * 1000).toFixed(0)} ms` : ""}` })
      : null,
    step.error ? el("p", { className: "field-error", text: step.error }) : null,
    result ? el("pre", { className: "yaml", text: result }) : null,
  );
}

async function renderTraces(container, ctx, id) {
  container.append(
    el("p", { className: "crumbs" }, el("a", { href: `#/automations/${encodeURIComponent(id)}`, text: "Back to the automation" })),
    el("h1", { tabindex: "-1", text: `Runs of ${id}` }),
  );
  const list = el("div", { "data-testid": "trace-list" });
  container.append(list);
  let shown = "";
  const load = async () => {
    const data = await get(`${base(id)}/traces`);
    const traces = data.traces;
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
              el(
                "summary",
                {},
                `${formatTime(trace.started, true)} · `,
                badge(trace.state, "trace-state"),
                ` · by ${trace.trigger?.trigger ?? trace.trigger?.platform ?? "run now"}`,
              ),
              trace.error ? el("p", { className: "field-error", text: trace.error }) : null,
              el("h3", { text: "Trigger" }),
              el("pre", { className: "yaml", text: toYaml(trace.trigger ?? {}) }),
              trace.conditions?.length
                ? [
                    el("h3", { text: "Conditions" }),
                    el(
                      "ol",
                      { className: "trace-steps" },
                      trace.conditions.map((c) => stepItem(c, "condition")),
                    ),
                  ]
                : null,
              el("h3", { text: "Steps" }),
              trace.steps?.length
                ? el(
                    "ol",
                    { className: "trace-steps" },
                    trace.steps.map((step) => stepItem(step, "step")),
                  )
                : el("p", { className: "muted", text: "No step ran." }),
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

/**
 * @param {HTMLElement} container
 * @param {any} ctx
 * @param {string[]} params
 */
export async function render(container, ctx, params) {
  if (params[1] === "traces") return renderTraces(container, ctx, params[0]);
  if (params[0] === "recipe" && params[1]) return renderEditor(container, ctx, "new", { recipe: params[1] });
  if (params[0]) return renderEditor(container, ctx, params[0]);
  return renderList(container, ctx);
}
