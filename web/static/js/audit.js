// @ts-check
// Audit log (admins): who did what, filtered and paged, as CSV, and whether the hash chain holds.

import { get } from "./api.js";
import { badge, clear, dataTable, el, field, formatTime, notify } from "./dom.js";

const PAGE = 50;

/** Seconds since the epoch from a datetime-local input, or "" when empty. */
function epoch(input) {
  return input.value ? String(new Date(input.value).getTime() / 1000) : "";
}

function details(value) {
  if (value === null || value === undefined || value === "") return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export async function render(container) {
  const actor = el("input", { name: "actor", autocapitalize: "none", autocomplete: "off" });
  const action = el("input", { name: "action", autocapitalize: "none", placeholder: "login." });
  const since = el("input", { name: "since", type: "datetime-local" });
  const until = el("input", { name: "until", type: "datetime-local" });
  const body = el("tbody");
  const summary = el("p", { className: "muted", role: "status", "data-testid": "audit-summary" });
  const csv = el("a", { href: "/api/audit?format=csv", download: "camhub-audit.csv", "data-testid": "audit-csv", text: "Download as CSV" });
  const chain = el("p", { "data-testid": "audit-chain" });
  const previous = el("button", { type: "button", text: "Newer" });
  const next = el("button", { type: "button", text: "Older" });
  let offset = 0;

  const query = (extra = {}) => {
    const params = new URLSearchParams({ actor: actor.value.trim(), action: action.value.trim(), since: epoch(since), until: epoch(until), ...extra });
    for (const [key, value] of [...params]) if (value === "") params.delete(key);
    return params.toString();
  };
  const load = async () => {
    // One more than a page, to know whether there is an older page.
    const { entries } = await get(`/api/audit?${query({ limit: PAGE + 1, offset })}`);
    const rows = entries.slice(0, PAGE);
    clear(
      body,
      rows.map((row) =>
        el(
          "tr",
          { "data-testid": "audit-row" },
          el("td", { text: formatTime(row.time, true) }),
          el("td", { text: row.user ?? "—" }),
          el("td", { text: row.action }),
          el("td", { text: row.target ?? "" }),
          el("td", { text: row.address ?? "" }),
          el("td", { className: "hint", text: details(row.details) }),
        ),
      ),
    );
    summary.textContent = rows.length ? `Entries ${offset + 1}–${offset + rows.length}` : "No entries match.";
    previous.disabled = offset === 0;
    next.disabled = entries.length <= PAGE;
    csv.href = `/api/audit?${query({ format: "csv" })}`;
  };
  const reload = () => load().catch((error) => notify(error.message, "error"));
  previous.addEventListener("click", () => ((offset = Math.max(0, offset - PAGE)), reload()));
  next.addEventListener("click", () => ((offset += PAGE), reload()));
  const filters = el(
    "form",
    { className: "toolbar", "aria-label": "Filter the audit log", "data-testid": "audit-filters" },
    field("User", actor),
    field("Action starts with", action),
    field("Since", since),
    field("Until", until),
    el("button", { type: "submit", text: "Filter" }),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    reload();
  });

  container.append(
    el("p", { className: "crumbs" }, el("a", { href: "#/system", text: "System" })),
    el("h1", { tabindex: "-1", text: "Audit log" }),
    chain,
    filters,
    el("p", { className: "toolbar" }, previous, next, csv),
    summary,
    dataTable(["Time", "User", "Action", "Target", "From", "Details"], { "data-testid": "audit-table" }, body, "Audit log, newest first"),
  );
  const [verified] = await Promise.all([get("/api/audit/verify").catch((error) => ({ error: error.message })), load()]);
  if (verified.error) chain.append(badge("unknown"), ` The chain could not be checked: ${verified.error}`);
  else if (verified.ok) chain.append(badge("ok"), ` Hash chain intact over ${verified.rows} entries: nothing was changed or removed.`);
  else chain.append(badge("failed"), ` Hash chain broken at entry ${verified.broken_id}: ${verified.reason}`);
  return null;
}
