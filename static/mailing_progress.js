// Mailing review and status pages: a confirmation before sending or stopping, and live progress
// of a send (polls the page's JSON until the send is done).
(() => {
  "use strict";
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!confirm(f.dataset.confirm)) e.preventDefault();
    });
  }
  const box = document.querySelector("[data-progress-url]");
  if (!box || box.dataset.done === "true") return;
  const set = (sel, text) => {
    const el = box.querySelector(sel);
    if (el) el.textContent = text;
  };
  async function tick() {
    try {
      const res = await fetch(box.dataset.progressUrl, { headers: { accept: "application/json" } });
      if (res.ok) {
        const p = await res.json();
        box.querySelector("progress").value = p.percent;
        set("[data-testid=progress]", p.text);
        set(".rate", p.rate);
        set(".eta", p.eta);
        if (p.done) {
          set(".final", p.final);
          const badge = document.querySelector("[data-testid=status]");
          if (badge) {
            badge.textContent = p.status_text;
            badge.className = `badge status-${p.status}`;
          }
          return;
        }
      }
    } catch {
      // A missed poll is retried on the next tick.
    }
    setTimeout(tick, 2000);
  }
  setTimeout(tick, 1000);
})();
