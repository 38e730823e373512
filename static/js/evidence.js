// Evidence upload with JavaScript (templates/pages/evidence/_section.html): each file is sent on
// its own to the upload API (POST /api/v1/cases/{id}/evidence, multipart; the session cookie and
// the x-csrftoken header), with a progress bar, a refusal explained on its file in the page's own
// words (.ev-texts: problem code -> text), a retry button after a network failure, and the list
// (#ev-list) refreshed through htmx when done. Files come from the file inputs (the phone's picker
// or camera) or are dropped on the form. Without JavaScript the form posts itself (multipart).
import { cookie } from "/static/js/app.js";

const form = document.getElementById("ev-upload");
if (form) enhance(form);

function enhance(form) {
  const csrfCookie = document.body.dataset.csrfCookie || "csrftoken";
  const csrfHeader = document.body.dataset.csrfHeader || "x-csrftoken";
  const api = form.dataset.api;
  const listUrl = form.dataset.list;
  const maxBytes = Number(form.dataset.maxBytes);
  const texts = new Map(
    [...form.querySelectorAll(".ev-texts [data-code]")].map((li) => [li.dataset.code, li.textContent.trim()]),
  );
  const say = (code) => texts.get(code) || "";
  const queue = form.querySelector("[data-queue]");
  const drop = form.querySelector("[data-drop]");
  const submit = form.querySelector('button[type="submit"]');
  const numbers = new Intl.NumberFormat(document.documentElement.lang || "zh-CN", { maximumFractionDigits: 1 });
  const items = [];
  let counter = 0;
  let busy = false;

  // as the server says sizes (chorus.evidence.pages.size_text)
  const size = (n) => {
    if (n < 1024) return say("size.bytes").replace("{n}", numbers.format(n));
    if (n < 1024 * 1024) return say("size.kb").replace("{n}", numbers.format(Math.round(n / 1024)));
    return say("size.mb").replace("{n}", numbers.format(Math.round((n / 1048576) * 10) / 10));
  };
  const failedBecause = (why) => say("js.failed").replace("{reason}", why);

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text) el.textContent = text;
    return el;
  }

  function button(label, onClick) {
    const b = element("button", "secondary outline", label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function show(item, state, text, actions = []) {
    item.state = state;
    item.li.dataset.state = state;
    item.status.textContent = text;
    item.actions.replaceChildren(...actions);
  }

  function forget(item) {
    items.splice(items.indexOf(item), 1);
    item.li.remove();
    queue.hidden = items.length === 0;
  }

  function add(files) {
    // the entries of a finished batch make room for the new one
    for (const done of items.filter((i) => i.state === "done")) forget(done);
    setNotice("");
    for (const file of files) {
      const id = `ev-q-${++counter}`;
      const li = element("li", "ev-file");
      const head = element("p", "ev-file-head");
      const name = element("span", "ev-file-name", file.name);
      name.id = id;
      head.append(name, " ", element("span", "ev-file-size", size(file.size)));
      const progress = element("progress");
      progress.max = 100;
      progress.value = 0;
      progress.setAttribute("aria-labelledby", id);
      const status = element("p", "ev-file-status");
      const actions = element("div", "ev-file-actions");
      li.append(head, progress, status, actions);
      const item = { file, li, progress, status, actions, state: "queued", fields: null };
      items.push(item);
      queue.append(li);
      if (file.size > maxBytes) {
        show(item, "refused", failedBecause(say("evidence_too_large")), [
          button(say("js.remove"), () => forget(item)),
        ]);
      } else {
        show(item, "queued", say("js.queued"), [button(say("js.remove"), () => forget(item))]);
      }
    }
    queue.hidden = items.length === 0;
  }

  // A line under the queue for what concerns no single file ("choose a file first").
  const notice = element("p", "field-error");
  notice.setAttribute("role", "alert");
  notice.hidden = true;
  queue.after(notice);
  function setNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function problemOf(xhr) {
    try {
      const body = JSON.parse(xhr.responseText);
      return body && typeof body === "object" ? body : null;
    } catch {
      return null;
    }
  }

  function send(item) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", api);
      xhr.setRequestHeader("Accept", "application/json");
      const token = cookie(csrfCookie);
      if (token) xhr.setRequestHeader(csrfHeader, token);
      item.progress.value = 0;
      show(item, "sending", say("js.sending"));
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) item.progress.value = Math.round((event.loaded / event.total) * 100);
      });
      const failed = (why, retry) => {
        const actions = [button(retry ? say("js.retry") : say("js.remove"), retry ? () => again(item) : () => forget(item))];
        show(item, "failed", failedBecause(why), actions);
        resolve(false);
      };
      xhr.addEventListener("load", () => {
        if (xhr.status === 200 || xhr.status === 201) {
          item.progress.value = 100;
          show(item, "done", say(xhr.status === 201 ? "js.done" : "js.duplicate"));
          resolve(true);
          return;
        }
        const problem = problemOf(xhr);
        const why =
          (problem && say(problem.code)) || say(`status.${xhr.status}`) || (problem && problem.detail) || say("status.500");
        failed(why, xhr.status >= 500 || xhr.status === 429);
      });
      for (const type of ["error", "timeout", "abort"]) xhr.addEventListener(type, () => failed(say("js.network"), true));
      const data = new FormData();
      for (const [name, value] of item.fields) data.append(name, value);
      data.append("file", item.file, item.file.name);
      xhr.send(data);
    });
  }

  async function again(item) {
    if (await send(item)) refreshList();
  }

  function refreshList() {
    const target = document.getElementById("ev-list");
    if (window.htmx && target) window.htmx.ajax("GET", listUrl, { target, swap: "outerHTML" });
    else window.location.reload();
  }

  function fields() {
    const out = [];
    for (const name of ["kind", "visibility", "description"]) {
      const field = form.elements.namedItem(name);
      if (field && field.value !== "") out.push([name, field.value]);
    }
    return out;
  }

  for (const input of form.querySelectorAll('input[type="file"]')) {
    input.addEventListener("change", () => {
      add([...input.files]);
      input.value = ""; // the queue holds them now; the form itself is never sent with files
    });
  }

  if (drop) {
    form.querySelector("[data-drop-hint]").hidden = false;
    const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
    for (const type of ["dragenter", "dragover"]) {
      drop.addEventListener(type, (event) => {
        if (!carriesFiles(event)) return;
        event.preventDefault();
        drop.classList.add("ev-drop-over");
      });
    }
    drop.addEventListener("dragleave", () => drop.classList.remove("ev-drop-over"));
    drop.addEventListener("drop", (event) => {
      drop.classList.remove("ev-drop-over");
      if (!carriesFiles(event)) return;
      event.preventDefault();
      add([...event.dataTransfer.files]);
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault(); // the browser checked the fields (kind is required) before this
    if (busy) return;
    const pending = items.filter((i) => i.state === "queued");
    if (!pending.length) {
      setNotice(say("file_required"));
      return;
    }
    setNotice("");
    busy = true;
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    const sent = fields();
    let stored = 0;
    for (const item of pending) {
      item.fields = sent;
      if (await send(item)) stored += 1;
    }
    busy = false;
    submit.disabled = false;
    submit.removeAttribute("aria-busy");
    if (stored) refreshList();
  });
}
