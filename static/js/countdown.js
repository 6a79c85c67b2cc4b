// The shared timer of a conversation. The server owns the end time; this only shows
// endsAt - serverNow() as MM:SS, and "Uitloop +MM:SS" after it. It never ends anything.
//
// The element is not a live region (it would talk every second): the caller announces the
// warning and the time up once, from onWarning and onTimeUp.

import { serverNow, t } from "./live.js";
import { mmss } from "./format.js";

const TICK_MS = 250;

export function startCountdown(element, endsAt, warningSeconds, { onWarning, onTimeUp, onWindow } = {}) {
  const display = element.querySelector('[data-field="time"]') ?? element;
  let warned = false;
  let timeUp = false;
  let inWindow = null; // within the warning time (or past the end): told to onWindow on change

  function tick() {
    const remaining = endsAt - serverNow();
    const whole = Math.ceil(remaining);
    if (element.dataset.remaining !== String(whole)) element.dataset.remaining = String(whole);
    const text = remaining > 0 ? mmss(whole) : `${t("overtime")} +${mmss(-remaining)}`;
    if (display.textContent !== text) display.textContent = text;
    const inside = remaining <= warningSeconds;
    if (inside !== inWindow) {
      inWindow = inside;
      onWindow?.(inside);
    }

    if (!warned && remaining <= warningSeconds) {
      warned = true;
      element.classList.add("warning");
      // Opened after the end already? Then only the time up is worth telling.
      if (remaining > 0) onWarning?.();
    }
    if (!timeUp && remaining <= 0) {
      timeUp = true;
      element.classList.add("overtime");
      onTimeUp?.();
    }
  }

  tick();
  const timer = window.setInterval(tick, TICK_MS);
  return {
    stop() {
      window.clearInterval(timer);
    },
    // The conversation was extended: count to the new end; warning and time up come again.
    // False when the end did not change.
    setEnd(newEndsAt) {
      if (!(newEndsAt > endsAt)) return false;
      endsAt = newEndsAt;
      element.dataset.endsAt = String(newEndsAt);
      warned = false;
      timeUp = false;
      element.classList.remove("warning", "overtime");
      tick();
      return true;
    },
  };
}
