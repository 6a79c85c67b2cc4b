// The console's "Vervolgafspraken", live from console.state: the booth's follow-ups not over
// yet, with their status. A candidate who cancels or asks to reschedule shows at once, and
// the change is announced.

import { announce } from "./live.js";
import { clock, dayLabel, field, fromTemplate, setText } from "./format.js";

const list = document.getElementById("follow-ups");
const empty = document.getElementById("follow-ups-empty");
const textsElement = document.getElementById("follow-up-texts");
const texts = textsElement ? JSON.parse(textsElement.textContent) : {};
// The status each follow-up had in the last paint, to announce only changes.
const seen = new Map();
if (list) {
  for (const item of list.querySelectorAll(":scope > li[data-follow-up-id]")) {
    seen.set(item.dataset.followUpId, item.dataset.status);
  }
}

function text(key, params = {}) {
  return (texts[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

function fill(item, f, timeZone) {
  item.dataset.followUpId = String(f.id);
  item.dataset.status = f.status;
  field(item, "link").href = `/adviseur/vervolgafspraken/${encodeURIComponent(String(f.id))}`;
  setText(field(item, "when"), `${f.day ? dayLabel(f.day) : ""} ${clock(f.starts_at, timeZone)}`);
  setText(field(item, "candidate_name"), f.candidate_name);
  setText(field(item, "status"), text(f.status));
  setText(field(item, "length"), text("length", { n: f.minutes }));
  setText(field(item, "mode"), text(f.mode));
  setText(field(item, "with"), f.advisor_name || text("booth"));
  const message = field(item, "candidate_message");
  message.hidden = !f.candidate_message;
  setText(message, f.candidate_message ?? "");
}

// Update the list in place, in the order given.
export function renderFollowUps(items, timeZone) {
  if (!list || !Array.isArray(items)) return;
  const existing = new Map();
  for (const item of list.querySelectorAll(":scope > li[data-follow-up-id]")) {
    existing.set(item.dataset.followUpId, item);
  }
  items.forEach((f, index) => {
    const key = String(f.id);
    const item = existing.get(key) ?? fromTemplate("tpl-follow-up");
    existing.delete(key);
    fill(item, f, timeZone);
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
    const before = seen.get(key);
    if (before !== undefined && before !== f.status) {
      announce(text("changed", { name: f.candidate_name, status: text(f.status) }));
    }
    seen.set(key, f.status);
  });
  for (const item of existing.values()) item.remove();
  empty.hidden = items.length > 0;
}
