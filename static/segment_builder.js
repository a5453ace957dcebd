// The segment builder with JavaScript: add and remove conditions and groups in place, and show
// the live count (POST /segments/count) as the conditions change. Without it, the same buttons
// submit the form and the server re-renders it.
(() => {
  const form = document.getElementById("segment-builder");
  const out = form?.querySelector('[data-testid="live-count"]');
  const root = form?.querySelector('[data-node="group"]');
  if (!form || !out || !root) return;
  const csrf = form.querySelector('input[name="_csrf"]')?.value ?? "";
  const maxDepth = Number(form.dataset.maxDepth) || 4;
  const own = (node, selector) =>
    [...node.querySelectorAll(selector)].filter((el) => el.closest("[data-node]") === node);

  // Control names carry the node's place in the tree (c[r.1.0][value]), as the server reads them.
  function renumber(node, path, level) {
    node.dataset.path = path;
    for (const el of own(node, "[data-prop]")) el.name = `c[${path}][${el.dataset.prop}]`;
    for (const el of own(node, "[data-errors-for]")) el.dataset.errorsFor = path;
    for (const b of own(node, "button[data-act]")) {
      b.value = `${b.dataset.act}:${path}`;
      if (b.dataset.act === "group") b.hidden = level >= maxDepth;
    }
    if (node.dataset.node !== "group") return;
    const kids = node.querySelector(":scope > .children")?.children ?? [];
    [...kids].forEach((child, i) => renumber(child, `${path}.${i}`, level + 1));
  }

  function insert(group, templateId) {
    const node = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
    group.querySelector(":scope > .children").append(node);
    renumber(root, "r", 1);
    node.querySelector("select")?.focus();
  }

  let timer = 0;
  let seq = 0;
  async function update() {
    clearTimeout(timer);
    const mine = ++seq;
    const body = new URLSearchParams(new FormData(form));
    let json;
    try {
      const res = await fetch("/segments/count", {
        method: "POST",
        headers: { "x-csrf-token": csrf },
        body,
      });
      json = await res.json();
    } catch {
      return; // offline or signed out: the Count button still works
    }
    if (mine !== seq) return; // a newer answer is on its way
    for (const box of root.querySelectorAll("[data-errors-for]")) box.replaceChildren();
    out.classList.toggle("field-error", !!json.error);
    if (!json.error) {
      out.textContent = json.text;
      return;
    }
    out.textContent = json.error.message;
    for (const d of json.error.details ?? []) {
      const box = root.querySelector(`[data-errors-for="${CSS.escape(d.node)}"]`) ??
        root.querySelector("[data-errors-for]");
      const p = document.createElement("p");
      p.className = "field-error";
      p.textContent = d.text;
      box.append(p);
    }
  }
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  };

  form.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-act]");
    if (!b) return;
    e.preventDefault();
    const node = b.closest("[data-node]");
    if (b.dataset.act === "add") insert(node, "segment-cond");
    else if (b.dataset.act === "group") insert(node, "segment-group");
    else if (b.dataset.act === "remove") {
      node.remove();
      renumber(root, "r", 1);
    }
    update();
  });
  // Count (and Enter in a field) answer in place too; Save still submits.
  form.addEventListener("submit", (e) => {
    if (e.submitter?.value !== "count") return;
    e.preventDefault();
    update();
  });
  form.addEventListener("input", (e) => e.target.name !== "name" && soon());
  form.addEventListener("change", (e) => e.target.name !== "name" && update());
  // No count on load: an edit page comes counted, and a new one starts with an unfilled row.
})();
