// The Print button of the proof of attendance: the browser's own print dialog, on this
// page. Without scripts the button stays hidden (the browser's menu prints the page too).
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
