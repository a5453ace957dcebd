// The compose page, enhanced: a Quill rich-text editor over the body textarea (which stays the
// form field), a merge-field menu, an HTML source mode, and debounced autosave with the version.
(() => {
  "use strict";
  const form = document.getElementById("compose");
  if (!form) return;
  const msg = (document.currentScript && document.currentScript.dataset) || {};
  const ta = form.querySelector("textarea[name=body_html]");
  const holder = form.querySelector(".editor");
  const tools = form.querySelector(".editor-tools");
  const status = form.querySelector(".autosave-status");
  const version = form.querySelector("input[name=version]");
  const menu = form.querySelector(".merge-menu");
  const toggle = form.querySelector(".html-toggle");
  let quill = null;
  let sourceMode = false;

  // ---- Autosave --------------------------------------------------------------------------
  let timer = 0;
  let inflight = false;
  let stopped = false;

  function show(text, bad) {
    status.textContent = text;
    status.classList.toggle("field-error", !!bad);
    status.setAttribute("role", bad ? "alert" : "status");
  }

  function schedule() {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(save, 1200);
  }

  async function save() {
    if (inflight) return schedule();
    inflight = true;
    const body = new URLSearchParams(new FormData(form));
    body.set("act", "autosave");
    try {
      const res = await fetch(form.dataset.autosave, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      const data = await res.json().catch(() => ({}));
      if (res.ok) {
        version.value = String(data.version);
        show(msg.saved || "Saved", false);
      } else {
        const err = data.error || {};
        show(err.message || msg.failed || "Not saved", true);
        // Someone else saved: never overwrite their changes; the message says to reload.
        if (err.conflict) stopped = true;
      }
    } catch {
      show(msg.failed || "Not saved", true);
    } finally {
      inflight = false;
      if (pending) {
        const submitter = pending;
        pending = null;
        form.requestSubmit(submitter);
      }
    }
  }

  // Save draft while an autosave is on its way would send the old version: wait for it.
  let pending = null;
  form.addEventListener("submit", (e) => {
    clearTimeout(timer);
    if (inflight) {
      e.preventDefault();
      pending = e.submitter || form.querySelector("button[value=save]");
    }
  });
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!confirm(f.dataset.confirm)) e.preventDefault();
    });
  }

  form.addEventListener("input", (e) => {
    if (e.target && e.target.name === "q") return;
    schedule();
  });
  form.addEventListener("change", (e) => {
    if (e.target === menu) return;
    schedule();
  });

  // ---- Editor ----------------------------------------------------------------------------
  if (globalThis.Quill && holder && ta) {
    const Quill = globalThis.Quill;
    // Merge-field links ({{unsubscribe_url}}) are kept as written; other links as Quill checks them.
    const Link = Quill.import("formats/link");
    const sanitize = Link.sanitize.bind(Link);
    Link.sanitize = (url) => (/^\{\{\s*[\w.]+\s*\}\}$/.test(url) ? url : sanitize(url));
    holder.hidden = false;
    tools.hidden = false;
    ta.hidden = true;
    quill = new Quill(holder, {
      theme: "snow",
      modules: {
        toolbar: {
          container: [
            [{ header: [1, 2, 3, false] }],
            ["bold", "italic"],
            [{ list: "ordered" }, { list: "bullet" }],
            ["link", "image"],
            ["clean"],
          ],
          handlers: {
            image() {
              const url = prompt(msg.imagePrompt || "Image URL");
              if (!url) return;
              const at = quill.getSelection(true);
              quill.insertEmbed(at.index, "image", url.trim(), "user");
            },
          },
        },
      },
    });
    quill.setContents(quill.clipboard.convert({ html: ta.value }), "silent");
    // getSemanticHTML keeps every space as &nbsp;, which stops lines wrapping in mail readers:
    // a run of n becomes one space and n-1 &nbsp;.
    const html = () =>
      quill.getSemanticHTML().replace(/(?:&nbsp;|\u00a0)+/g, (run) => {
        const n = run.split(/&nbsp;|\u00a0/).length - 1;
        return " " + "&nbsp;".repeat(n - 1);
      });
    quill.on("text-change", () => {
      ta.value = html();
      schedule();
    });
  }

  function insertAtTextarea(text) {
    const start = ta.selectionStart ?? ta.value.length;
    const end = ta.selectionEnd ?? start;
    ta.value = ta.value.slice(0, start) + text + ta.value.slice(end);
    ta.selectionStart = ta.selectionEnd = start + text.length;
    ta.focus();
    schedule();
  }

  if (menu) {
    menu.addEventListener("change", () => {
      const value = menu.value;
      if (!value) return;
      const label = menu.options[menu.selectedIndex].text;
      const isLink = /_url\}\}$/.test(value);
      menu.value = "";
      if (!quill || sourceMode) {
        insertAtTextarea(isLink ? `<a href="${value}">${label}</a>` : value);
        return;
      }
      const at = quill.getSelection(true);
      if (isLink) quill.insertText(at.index, label, { link: value }, "user");
      else quill.insertText(at.index, value, "user");
      quill.setSelection(at.index + (isLink ? label.length : value.length), 0, "user");
    });
  }

  if (toggle && quill) {
    const bar = holder.previousElementSibling; // Quill puts its toolbar before the editor
    toggle.addEventListener("click", () => {
      sourceMode = !sourceMode;
      toggle.setAttribute("aria-pressed", String(sourceMode));
      if (!sourceMode) quill.setContents(quill.clipboard.convert({ html: ta.value }), "silent");
      holder.hidden = sourceMode;
      if (bar && bar.classList.contains("ql-toolbar")) bar.hidden = sourceMode;
      ta.hidden = !sourceMode;
    });
  }
})();
