// @ts-check
// Storage privacy (admins): encryption state, unlock and lock, erase or export a time range.

import { get, post } from "./api.js";
import { badge, button, clear, el, field, formatTime, notify } from "./dom.js";

function card(title, testId, ...children) {
  return el(
    "section",
    { className: "card", "aria-labelledby": `pv-${testId}`, "data-testid": testId },
    el("h2", { id: `pv-${testId}`, text: title }),
    ...children,
  );
}

/** Start and end inputs (local time) and a reader giving epoch seconds, or an error text. */
function timeRange(prefix) {
  const start = el("input", { type: "datetime-local", name: `${prefix}-start`, step: 1 });
  const end = el("input", { type: "datetime-local", name: `${prefix}-end`, step: 1 });
  const read = () => {
    const from = new Date(start.value).getTime() / 1000;
    const to = new Date(end.value).getTime() / 1000;
    if (!Number.isFinite(from) || !Number.isFinite(to)) return { error: "Give a start and an end." };
    if (from >= to) return { error: "The start must be before the end." };
    return { start: from, end: to };
  };
  return { nodes: [field("From", start), field("Until", end)], read, inputs: [start, end] };
}

async function encryptionCard() {
  const box = card("Encryption at rest", "encryption");
  const draw = async () => {
    const status = await get("/api/storage/encryption");
    const sealed = (status.keys ?? []).some((k) => k.kind === "sealed");
    const state = status.mode === "off" ? "off" : status.locked ? "locked" : "unlocked";
    const facts = el(
      "dl",
      { className: "facts" },
      el("div", {}, el("dt", { text: "Mode" }), el("dd", { "data-testid": "encryption-mode", text: status.mode })),
      el("div", {}, el("dt", { text: "Footage" }), el("dd", {}, badge(state, "encryption-state"))),
      el("div", {}, el("dt", { text: "Current key" }), el("dd", { text: status.current_key ?? "none" })),
    );
    const parts = [facts];
    if (status.mode === "off") parts.push(el("p", { className: "muted", text: "Footage is stored unencrypted (storage.encryption.mode: off)." }));
    if (sealed && status.locked) parts.push(unlockForm(draw));
    if (sealed && !status.locked) {
      parts.push(
        button("Lock now", async () => {
          try {
            await post("/api/storage/lock");
            notify("Locked: sealed footage is unreadable until the next unlock.");
            await draw();
          } catch (error) {
            notify(error.message, "error");
          }
        }),
      );
    }
    clear(box, box.firstElementChild, parts);
  };
  await draw();
  return box;
}

function unlockForm(redraw) {
  const passphrase = el("input", { name: "passphrase", type: "password", autocomplete: "current-password" });
  const wrapper = field("Passphrase", passphrase, { path: "passphrase", hint: "Kept in memory only, until camhub stops or you lock again." });
  const status = el("p", { className: "form-status", role: "alert" });
  const form = el(
    "form",
    { novalidate: true, "data-testid": "unlock-form" },
    wrapper,
    status,
    el("button", { type: "submit", className: "primary", text: "Unlock" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    if (!passphrase.value) return (status.textContent = "Enter the passphrase.");
    try {
      await post("/api/storage/unlock", { passphrase: passphrase.value });
      notify("Unlocked: footage can be watched and exported.", "ok");
      await redraw();
    } catch (error) {
      status.textContent = error.status === 403 ? "Wrong passphrase." : error.message;
      passphrase.select();
    }
  });
  return form;
}

function eraseCard() {
  const range = timeRange("erase");
  const status = el("p", { className: "form-status", role: "alert", "data-testid": "erase-status" });
  const confirmBox = el("div", { className: "notice", "data-kind": "error", "data-testid": "erase-confirm", hidden: true });
  const form = el(
    "form",
    { novalidate: true, "aria-label": "Erase footage" },
    range.nodes,
    status,
    el("button", { type: "submit", className: "danger", text: "Erase…" }),
    confirmBox,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    status.textContent = "";
    const chosen = range.read();
    if (chosen.error) return (status.textContent = chosen.error);
    const cancel = button("Cancel", () => (confirmBox.hidden = true));
    const go = button(
      "Erase for good",
      async () => {
        go.disabled = true;
        try {
          const result = await post("/api/footage/erase", chosen);
          confirmBox.hidden = true;
          const counts = Object.entries(result)
            .map(([k, v]) => `${k.replace(/_/g, " ")}: ${v}`)
            .join(", ");
          status.textContent = `Erased. ${counts}`;
        } catch (error) {
          status.textContent = error.message;
        } finally {
          go.disabled = false;
        }
      },
      { className: "danger" },
    );
    clear(
      confirmBox,
      el("p", {
        text: `Erase every camera's footage and events from ${formatTime(chosen.start, true)} to ${formatTime(chosen.end, true)}? This cannot be undone. Events kept on hold stay.`,
      }),
      el("p", { className: "toolbar" }, go, cancel),
    );
    confirmBox.hidden = false;
    go.focus();
  });
  return card(
    "Erase a time range",
    "erase",
    el("p", { className: "muted", text: "Removes recordings, clips, snapshots and events of all cameras in the range." }),
    form,
  );
}

function exportCard() {
  const range = timeRange("export");
  const status = el("p", { className: "form-status", role: "alert" });
  const link = el("a", { className: "button", "data-testid": "export-link", download: "", hidden: true, text: "Download the export" });
  const update = () => {
    const chosen = range.read();
    link.hidden = Boolean(chosen.error);
    status.textContent = range.inputs.every((i) => i.value) ? (chosen.error ?? "") : "";
    if (!chosen.error) link.href = `/api/footage/export?start=${chosen.start}&end=${chosen.end}`;
  };
  for (const input of range.inputs) input.addEventListener("change", update);
  return card(
    "Export a time range",
    "export",
    el("p", {
      className: "muted",
      text: "A tar archive of the events, clips, snapshots and recordings of the range, decrypted (encrypted footage must be unlocked).",
    }),
    range.nodes,
    status,
    el("p", {}, link),
  );
}

export async function render(container) {
  container.append(el("p", { className: "crumbs" }, el("a", { href: "#/system", text: "System" })), el("h1", { tabindex: "-1", text: "Storage privacy" }));
  const grid = el("div", { className: "grid-2" });
  container.append(grid);
  try {
    grid.append(await encryptionCard());
  } catch (error) {
    grid.append(el("p", { className: "notice", "data-kind": "error", text: error.message }));
  }
  grid.append(eraseCard(), exportCard());
  return null;
}
