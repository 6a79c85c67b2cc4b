// The step-in page, kept current. After a change in the hall (an overview.state with a new
// revision) the page's live part is read again from the server and put in its place, unless
// the moderator is busy with a form on it (focus inside, a disclosure open, a choice made or
// a box ticked): then a notice offers to refresh, and nothing moves under their hands.
// The new part is the server's own rendering of the page, parsed, never built from data.

import { connect } from "./live.js";

const root = document.getElementById("step-in");
const notice = document.getElementById("step-in-stale");
const LIVE_PART = "step-in-live";
const MIN_GAP_MS = 2000;
let shownRev = Number(root.dataset.rev);
let latestRev = shownRev;
let timer = null;
let lastRead = 0;

function changedChoice(select) {
  const chosen = [...select.options].findIndex((option) => option.defaultSelected);
  return select.selectedIndex !== Math.max(0, chosen);
}

function busy() {
  const part = document.getElementById(LIVE_PART);
  const active = document.activeElement;
  return Boolean(
    (active && active !== document.body && part.contains(active)) ||
      part.querySelector("details[open]") ||
      part.querySelector('input[name="confirm"]:checked') ||
      [...part.querySelectorAll("select")].some(changedChoice),
  );
}

async function readAgain() {
  timer = null;
  if (busy()) {
    notice.hidden = false;
    return;
  }
  lastRead = Date.now();
  const wanted = latestRev;
  let response;
  try {
    response = await fetch(window.location.pathname, { credentials: "same-origin" });
  } catch {
    return;
  }
  if (!response.ok || response.redirected) return;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.getElementById(LIVE_PART);
  if (!fresh || busy()) {
    notice.hidden = !busy();
    return;
  }
  document.getElementById(LIVE_PART).replaceWith(document.importNode(fresh, true));
  shownRev = Math.max(shownRev, wanted);
  notice.hidden = true;
  if (latestRev > shownRev) schedule();
}

function schedule() {
  if (timer !== null) return;
  timer = window.setTimeout(readAgain, Math.max(0, MIN_GAP_MS - (Date.now() - lastRead)));
}

function heard(rev) {
  if (typeof rev !== "number" || rev <= latestRev) return;
  latestRev = rev;
  if (latestRev > shownRev) schedule();
}

// A notice that was shown because the moderator was busy goes once they are done.
root.addEventListener("focusout", () => {
  if (latestRev > shownRev) schedule();
});

connect({
  onEvent(name, data) {
    if (name === "overview.state") heard(data.rev);
    else if (name === "session.state") heard(data.overview?.rev);
  },
});
