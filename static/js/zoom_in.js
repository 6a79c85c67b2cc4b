// The zoom-in form: a character counter for the question, and one submit only.

import { connect, t } from "./live.js";

const form = document.getElementById("zoom-in-form");
const question = document.getElementById("field-question");
const counter = document.getElementById("question-count");
const spoken = document.getElementById("question-count-live");
const limit = Number(question.getAttribute("maxlength")) || 500;
let speakTimer = null;

function updateCounter({ speak = true } = {}) {
  const left = limit - question.value.length;
  // Over the limit (a text sent back by the server): say so, never "-75 left".
  counter.textContent =
    left >= 0 ? t("chars_left", { n: left }) : t("chars_too_many", { max: limit });
  counter.hidden = false;
  counter.classList.toggle("is-low", left <= 50);
  if (!speak) return;
  // Screen readers hear the count once typing pauses, not at every key.
  window.clearTimeout(speakTimer);
  speakTimer = window.setTimeout(() => {
    spoken.textContent = counter.textContent;
  }, 1000);
}

question.addEventListener("input", () => updateCounter());
updateCounter({ speak: false });

// The server ignores a repeated client_key anyway; this just spares the extra click.
form.addEventListener("submit", (event) => {
  if (form.dataset.submitted === "1") {
    event.preventDefault();
    return;
  }
  form.dataset.submitted = "1";
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
});

// Coming back with the browser's back button shows the form again, ready to use.
window.addEventListener("pageshow", () => {
  form.dataset.submitted = "";
  form.querySelector('button[type="submit"]').disabled = false;
});

// Keeps the connection status visible, like every other page.
connect();
