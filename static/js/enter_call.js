// A conversation on the hall's own call page starts from the accept with no extra click:
// a page that sees such a conversation begin goes to its call page. A conversation that was
// already running when the page was opened is left alone: the person came here on purpose.

import { safeUrl } from "./format.js";

// runningAtLoad: the id of the conversation the page was rendered with ("" for none), or
// undefined when the page does not know; then the first state it hears is the baseline.
export function followCalls(runningAtLoad) {
  let known = runningAtLoad === undefined ? null : new Set([String(runningAtLoad)]);
  return function follow(conversation) {
    const running = conversation && conversation.ended_at == null ? conversation : null;
    if (known === null) {
      known = new Set(running ? [String(running.id)] : []);
      return false;
    }
    if (!running || known.has(String(running.id))) return false;
    known.add(String(running.id));
    if (!running.builtin_call) return false;
    window.location.assign(safeUrl(running.video_url));
    return true;
  };
}
