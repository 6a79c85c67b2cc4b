// The moderator's overview, re-rendered from overview.state.

import { connect, t } from "./live.js";
import { clock, setText, statusLabel, waitText } from "./format.js";

const root = document.getElementById("overview");
const timeZone = root.dataset.timezone;

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
    list.append(item);
  }
  return list;
}

function boothRow(view) {
  const row = document.createElement("tr");
  row.dataset.boothId = view.id;
  row.dataset.testid = `overview-booth-${view.id}`;
  const advisors = cell("td", "", { "data-label": boothLabels[1] });
  advisors.append(advisorList(view.advisors));
  row.append(
    cell("th", view.name, { scope: "row" }),
    advisors,
    cell("td", String(view.queue_length), {
      class: "num",
      "data-field": "queue",
      "data-label": boothLabels[2],
    }),
    cell("td", waitText(view.wait_minutes), { "data-field": "wait", "data-label": boothLabels[3] }),
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
  ];
  row.append(...values.map((text, i) => cell("td", text, { "data-label": conversationLabels[i] })));
  // The candidate's name leads to the conversation's page with the advisor's notes.
  const link = document.createElement("a");
  link.href = `/gesprekken/${Number(conversation.id)}`;
  link.textContent = conversation.candidate_name;
  row.children[2].replaceChildren(link);
  return row;
}

function render(overview) {
  if (!overview) return;
  const totals = overview.totals;
  for (const name of ["waiting", "running", "advisors_present", "conversations_done_today"]) {
    setText(root.querySelector(`[data-field="${name}"]`), String(totals[name]));
  }
  const longest = root.querySelector('[data-field="longest_wait"]');
  longest.hidden = !totals.longest_wait_since;
  if (totals.longest_wait_since) {
    const since = t("waiting_since", { time: clock(totals.longest_wait_since, timeZone) });
    setText(longest, t("longest_wait", { since }));
  }
  document.getElementById("overview-booths").replaceChildren(...overview.booths.map(boothRow));
  document
    .getElementById("overview-conversations")
    .replaceChildren(...overview.conversations.map(conversationRow));
  document.getElementById("conversations-table").hidden = overview.conversations.length === 0;
  document.getElementById("no-conversations").hidden = overview.conversations.length > 0;
}

function onEvent(name, data) {
  if (name === "session.state") render(data.overview);
  else if (name === "overview.state") render(data);
}

connect({ onEvent });
