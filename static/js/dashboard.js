// The moderator's dashboard, redrawn from each overview.state push (the server pushes it
// after every change and every few seconds, so alerts that come with the time alone show
// up by themselves). The state holds moments; durations are worked out here, by the
// server's clock. A part whose content did not change is left alone, so keyboard focus
// stays where it was.
// New alerts are announced politely. The live view can be paused (WCAG 2.2.2): while
// paused nothing on the page changes; on resume the latest state is shown at once.

import { announce, connect, serverNow } from "./live.js";
import { clock, setText, statusLabel } from "./format.js";

const root = document.getElementById("overview");
const timeZone = root.dataset.timezone;
const texts = JSON.parse(document.getElementById("dashboard-texts").textContent);
// Charts look back over the whole day: fetched again this often while not paused.
const CHARTS_EVERY_MS = 60_000;
// Durations (the state holds moments) are worked out again this often while not paused.
const DURATIONS_EVERY_MS = 15_000;

function fill(text, params) {
  return text.replace(/%\((\w+)\)s/g, (whole, name) =>
    name in params ? String(params[name]) : whole,
  );
}

// Whole minutes since a moment of the state, by the server's clock.
function minutesSince(since) {
  return Math.max(0, Math.floor((serverNow() - since) / 60));
}

function duration(since) {
  if (since === null || since === undefined) return "–";
  return fill(texts.minutes, { n: minutesSince(since) });
}

// Put these nodes in the container unless it already shows exactly them (so focus and
// a screen reader's place stay where they are).
function replaceIfChanged(container, nodes) {
  const shown = [...container.children];
  const same =
    shown.length === nodes.length && nodes.every((node, i) => node.isEqualNode(shown[i]));
  if (!same) container.replaceChildren(...nodes);
}

function cell(tag, text, attributes = {}) {
  const element = document.createElement(tag);
  element.textContent = text;
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

// Column names, shown beside each value when a narrow screen stacks the table.
function labelsOf(tableId) {
  return [...document.querySelectorAll(`#${tableId} thead th`)].map((th) => th.textContent.trim());
}

const boothLabels = labelsOf("booths-table");
const conversationLabels = labelsOf("conversations-table");

function stepInLink(boothId, text, hiddenText = "") {
  const link = document.createElement("a");
  link.href = `/moderator/ingrijpen#stand-${Number(boothId)}`;
  link.textContent = text;
  if (hiddenText) link.append(cell("span", ` (${hiddenText})`, { class: "visually-hidden" }));
  return link;
}

function advisorList(advisors) {
  const list = document.createElement("ul");
  list.className = "plain-list";
  if (advisors.length === 0) list.append(cell("li", "–"));
  for (const advisor of advisors) {
    const item = document.createElement("li");
    const badge = cell("span", statusLabel(advisor.status), {
      class: `status status-${advisor.status}`,
      "data-status": advisor.status,
      "data-advisor-id": advisor.id,
      "data-testid": `advisor-status-${advisor.id}`,
    });
    item.append(`${advisor.name} `, badge);
    if (advisor.since) {
      const since = cell("span", fill(texts.since, { n: minutesSince(advisor.since) }), {
        class: "since",
        "data-testid": `advisor-since-${advisor.id}`,
      });
      item.append(" ", since);
    }
    list.append(item);
  }
  return list;
}

function boothRow(view) {
  const row = document.createElement("tr");
  row.dataset.boothId = view.id;
  row.dataset.testid = `overview-booth-${view.id}`;
  const name = cell("th", "", { scope: "row" });
  name.append(stepInLink(view.id, view.name));
  if (view.closed) {
    name.append(
      " ",
      cell("span", texts.closed_by_moderator, {
        class: "tag tag-closed",
        "data-testid": "booth-closed",
      }),
    );
  }
  const advisors = cell("td", "", { "data-label": boothLabels[1] });
  advisors.append(advisorList(view.advisors));
  const number = (field, value, i) =>
    cell("td", String(value), { class: "num", "data-field": field, "data-label": boothLabels[i] });
  row.append(
    name,
    advisors,
    number("online", view.advisors_online, 2),
    number("free", view.free, 3),
    number("in_conversation", view.in_conversation, 4),
    number("queue", view.queue_length, 5),
    cell("td", duration(view.longest_waiting_since), {
      "data-field": "longest_wait",
      "data-label": boothLabels[6],
    }),
    number("done", view.conversations_done, 7),
  );
  return row;
}

function conversationRow(conversation) {
  const row = document.createElement("tr");
  row.dataset.conversationId = conversation.id;
  row.dataset.testid = "conversation-row";
  const values = [
    conversation.booth_name,
    conversation.advisor_name,
    conversation.candidate_name,
    clock(conversation.ends_at, timeZone),
    conversation.overtime ? duration(conversation.ends_at) : "–",
  ];
  row.append(...values.map((text, i) => cell("td", text, { "data-label": conversationLabels[i] })));
  // The candidate's name leads to the conversation's page with the advisor's notes.
  const link = document.createElement("a");
  link.href = `/gesprekken/${Number(conversation.id)}`;
  link.textContent = conversation.candidate_name;
  row.children[2].replaceChildren(link);
  return row;
}

function alertText(alert) {
  const text = texts.alerts[alert.kind];
  return text ? fill(text, alert.params) : alert.text;
}

function alertItem(alert) {
  const item = cell("li", `${alertText(alert)} `, {
    class: `alert-item alert-${alert.kind}`,
    "data-key": alert.key,
    "data-kind": alert.kind,
    "data-testid": `alert-${alert.kind}`,
  });
  if (alert.booth_id !== null) {
    item.dataset.boothId = alert.booth_id;
    item.append(stepInLink(alert.booth_id, texts.intervene, alert.booth_name));
  }
  return item;
}

// Alerts already shown (by key): only new ones are announced.
let shownAlerts = new Set(
  [...document.querySelectorAll("#alerts [data-key]")].map((li) => li.dataset.key),
);

function renderAlerts(alerts) {
  replaceIfChanged(document.getElementById("alerts"), alerts.map(alertItem));
  document.getElementById("no-alerts").hidden = alerts.length > 0;
  const fresh = alerts.filter((alert) => !shownAlerts.has(alert.key));
  shownAlerts = new Set(alerts.map((alert) => alert.key));
  if (fresh.length > 0) {
    announce(fresh.map((alert) => fill(texts.new_alert, { text: alertText(alert) })).join(" "));
  }
}

function render(overview) {
  root.dataset.rev = overview.rev;
  const totals = overview.totals;
  for (const dd of root.querySelectorAll(".totals [data-field]")) {
    const value = totals[dd.dataset.field];
    setText(dd, dd.hasAttribute("data-duration") ? duration(value) : String(value ?? "–"));
  }
  root.querySelector('[data-field="event-closed"]').hidden = overview.event.is_open;
  renderAlerts(overview.alerts);
  replaceIfChanged(document.getElementById("overview-booths"), overview.booths.map(boothRow));
  replaceIfChanged(
    document.getElementById("overview-conversations"),
    overview.conversations.map(conversationRow),
  );
  document.getElementById("conversations-table").hidden = overview.conversations.length === 0;
  document.getElementById("no-conversations").hidden = overview.conversations.length > 0;
}

// -- the charts: a server-rendered fragment, fetched now and then -----------------------

async function refreshCharts() {
  try {
    const response = await fetch("/moderator/grafieken", { credentials: "same-origin" });
    if (!response.ok || paused) return;
    const html = await response.text();
    const fragment = new DOMParser().parseFromString(html, "text/html");
    if (paused) return;
    // Keep a table the moderator opened open.
    const open = new Set(
      [...document.querySelectorAll("#charts details[open]")].map(
        (d) => d.closest(".dashboard-chart")?.id,
      ),
    );
    const charts = [...fragment.body.querySelectorAll(".dashboard-chart")];
    for (const chart of charts) {
      if (open.has(chart.id)) chart.querySelector("details")?.setAttribute("open", "");
    }
    document
      .getElementById("charts")
      .replaceChildren(...charts.map((c) => document.importNode(c, true)));
  } catch {
    // The next round tries again.
  }
}

// -- pause and resume --------------------------------------------------------------------

let paused = false;
let latest = null;
const pause = document.getElementById("pause");
const pausedNote = document.getElementById("paused-note");

function setPaused(value) {
  paused = value;
  // The name stays; aria-pressed (and its look) says whether it is on.
  pause.setAttribute("aria-pressed", String(paused));
  pausedNote.hidden = !paused;
  root.dataset.paused = String(paused);
  if (!paused) {
    if (latest) render(latest);
    refreshCharts();
  }
}

pause.hidden = false;
pause.addEventListener("click", () => setPaused(!paused));

function show(overview) {
  if (!overview) return;
  latest = overview;
  if (!paused) render(overview);
}

function onEvent(name, data) {
  if (name === "session.state") show(data.overview);
  else if (name === "overview.state") show(data);
}

window.setInterval(() => {
  if (!paused && !document.hidden) refreshCharts();
}, CHARTS_EVERY_MS);

window.setInterval(() => {
  if (!paused && latest) render(latest);
}, DURATIONS_EVERY_MS);

connect({ onEvent });
