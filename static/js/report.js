// The report wizard (/report): when htmx brings an identifier's check, mark its field invalid or
// valid for assistive technology (the message itself is in the row's live region). The form
// works without this file.

document.addEventListener("htmx:afterSwap", (event) => {
  const region = event.detail.target;
  if (!region || !region.classList || !region.classList.contains("identifier-check")) return;
  const row = region.id.replace("check-", "");
  const field = document.getElementById(`f-merchant-identifiers-${row}-value`);
  if (!field) return;
  const result = region.querySelector(".check-result");
  if (result && result.dataset.state === "invalid") {
    field.setAttribute("aria-invalid", "true");
  } else {
    field.removeAttribute("aria-invalid");
  }
});
