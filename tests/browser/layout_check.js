// Injected into a copy of a report by run.sh (the reports themselves carry no script):
// measures the laid-out page and writes what it finds into a pre element (id layout-check) as
// JSON, which Chromium's --dump-dom serializes for check_page.py.
(function () {
  const problems = [];
  const inside = (r, box) =>
    r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
  for (const svg of document.querySelectorAll("svg.chart")) {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll("text")]
      .map((t) => ({ text: t.textContent.trim(), r: t.getBoundingClientRect() }))
      .filter((t) => t.text !== "" && t.r.width > 0);
    for (const t of texts) {
      if (!inside(t.r, box)) problems.push(`chart ${svg.id}: text "${t.text}" is cut by the chart's edge`);
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i].r, b = texts[j].r;
        const dx = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        // Glyph boxes include line spacing: a couple of pixels of contact is not overlap.
        if (dx > 2 && dy > 3) {
          problems.push(`chart ${svg.id}: text "${texts[i].text}" overlaps "${texts[j].text}"`);
        }
      }
    }
  }
  document.querySelectorAll("table").forEach((table, k) => {
    const card = table.parentElement.getBoundingClientRect();
    const r = table.getBoundingClientRect();
    if (r.right > card.right + 1 || table.scrollWidth > table.parentElement.clientWidth + 1) {
      problems.push(`table ${k + 1} is ${Math.round(r.width)} px wide in a ${Math.round(card.width)} px card`);
    }
  });
  const page = document.documentElement.scrollWidth;
  if (page > window.innerWidth + 1) problems.push(`the page is ${page} px wide in a ${window.innerWidth} px window`);
  const pre = document.createElement("pre");
  pre.id = "layout-check";
  pre.textContent = JSON.stringify(problems);
  document.body.appendChild(pre);
})();
