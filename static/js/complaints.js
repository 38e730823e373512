// The complaint versions page: building a version takes a few seconds for a large case; the
// button says so and cannot be pressed twice. The form works the same without this.
for (const form of document.querySelectorAll("form[data-busy]")) {
  form.addEventListener("submit", () => {
    const button = form.querySelector('button[type="submit"]');
    if (!button) return;
    // after this event the browser sends the form; disabling the button now does not stop it
    window.setTimeout(() => {
      button.setAttribute("aria-busy", "true");
      button.disabled = true;
      button.textContent = form.dataset.busy;
    }, 0);
  });
}
