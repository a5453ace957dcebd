// Live count for the segment builder: whenever the conditions change, post the form as it is
// to /segments/count and show the answer. Without JavaScript the "Count" button does the same.
(() => {
  const form = document.getElementById("segment-builder");
  const out = document.querySelector('[data-testid="live-count"]');
  if (!form || !out) return;
  const csrf = form.querySelector('input[name="_csrf"]')?.value ?? "";
  let timer = 0;
  let seq = 0;
  async function update() {
    const mine = ++seq;
    const body = new URLSearchParams(new FormData(form));
    for (const k of ["add", "remove", "count", "save"]) body.delete(k);
    try {
      const res = await fetch("/segments/count", {
        method: "POST",
        headers: { "x-csrf-token": csrf },
        body,
      });
      const json = await res.json();
      if (mine !== seq) return; // a newer answer is on its way
      out.textContent = json.text ?? json.error ?? "";
      out.classList.toggle("field-error", !res.ok);
    } catch {
      // Offline or the session ended: the Count button still works.
    }
  }
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  });
  form.addEventListener("change", update);
  update();
})();
