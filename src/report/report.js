"use strict";
// Draws the pages from the JSON in #data: the report's table of contents
// (sorts, filters) and cluster view, and diffs side by side, each when
// asked for. Every text goes in with textContent: no markup from a
// document can reach the page.
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const $ = (s) => document.querySelector(s);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };
  // A diff (neardup's hunks::Split, see html.rs `split_json`): rows
  // [left line, right line, text] when both sides read the same, else
  // [left line, right line, left pieces, right pieces] (and a fifth item, 1,
  // on a changed row), pieces alternating unchanged and changed, line 0 for
  // a missing line; `s` the row ranges shown, the rest folded behind a
  // control; `id` prefixes the change anchors.
  function diff(d, id) {
    const box = el("div");
    if (!d.n) {
      box.appendChild(el("p", "same", "identical after normalisation (" + d.lines + " lines)"));
      return box;
    }
    const meta = el("p", "meta", d.n + (d.n === 1 ? " change · " : " changes · "));
    const first = el("a", null, "first change ↓");
    first.href = "#" + id + "-1";
    meta.appendChild(first);
    const t = el("table", "diff"), cg = el("colgroup");
    for (const c of ["n", "", "n", "", "nav"]) cg.appendChild(el("col", c || null));
    const th = el("thead"), hr = el("tr"), h1 = el("th", null, d.h[0]), h2 = el("th", null, d.h[1]);
    h1.colSpan = 2;
    h2.colSpan = 3;
    hr.append(h1, h2);
    th.appendChild(hr);
    t.append(cg, th);
    let change = 0;
    const side = (tr, n, pieces, cls, mark) => {
      tr.appendChild(el("td", "n", n ? String(n) : ""));
      const td = el("td", cls);
      if (n) {
        if (typeof pieces === "string") td.textContent = pieces;
        else pieces.forEach((p, i) => td.appendChild(i % 2 ? el(mark, null, p) : document.createTextNode(p)));
      }
      tr.appendChild(td);
    };
    const rows = (from, to, body) => {
      for (let i = from; i < to; i++) {
        const r = d.r[i], tr = el("tr"), nav = el("td", "nav");
        if (r.length === 5) {
          tr.className = "chg";
          if (!(i > 0 && d.r[i - 1].length === 5)) {
            change++;
            tr.id = id + "-" + change;
            for (const [k, label, title] of [[change - 1, "↑", "previous change"], [change + 1, "↓", "next change"]]) {
              if (k < 1 || k > d.n) continue;
              const a = el("a", null, label);
              a.href = "#" + id + "-" + k;
              a.title = title;
              nav.appendChild(a);
            }
          }
        }
        side(tr, r[0], r[2], "l", "del");
        side(tr, r[1], r.length === 3 ? r[2] : r[3], "r", "ins");
        tr.appendChild(nav);
        body.appendChild(tr);
      }
    };
    const fold = (from, to) => {
      const gap = el("tbody"), tr = el("tr", "gap"), td = el("td"), label = el("label");
      const open = el("input");
      open.type = "checkbox";
      td.colSpan = 5;
      label.append(open, "⋯ " + (to - from) + (to - from === 1 ? " unchanged line" : " unchanged lines"));
      td.appendChild(label);
      tr.appendChild(td);
      gap.appendChild(tr);
      const body = el("tbody", "fold");
      rows(from, to, body);
      t.append(gap, body);
    };
    let shown = 0;
    for (const [from, to] of d.s) {
      if (from > shown) fold(shown, from);
      const body = el("tbody");
      rows(from, to, body);
      t.appendChild(body);
      shown = to;
    }
    if (shown < d.r.length) fold(shown, d.r.length);
    box.append(meta, t);
    return box;
  }
  if (D.diff) {
    $("#diff").replaceChildren(diff(D.diff, "d"));
    document.body.dataset.ready = Math.round(performance.now());
    return;
  }
  const C = D.clusters; // [id, kind, keep, chars, lowest similarity, similarity text, below, members]
  const M = 7; // members: [location, record id, similarity text, preview, diff]
  const PAGE = 500;
  let rows = C, shown = PAGE, sortCol = 0, sortDir = 1;
  const key = [
    (c) => c[0], (c) => c[1], (c) => c[M].length, (c) => c[3], (c) => c[4],
    (c) => c[M][c[2]][0], (c) => c[M][c[2]][3],
  ];
  const f = {
    kind: $("#f-kind"), sim: $("#f-sim"), copies: $("#f-copies"),
    path: $("#f-path"), below: $("#f-below"),
  };
  function apply() {
    const kind = f.kind.value, sim = parseFloat(f.sim.value) || 0;
    const copies = parseInt(f.copies.value, 10) || 0;
    const path = f.path.value.toLowerCase(), below = f.below.checked;
    rows = C.filter((c) => (!kind || c[1] === kind) && c[4] >= sim &&
      c[M].length >= copies && (!below || c[6]) &&
      (!path || c[M].some((m) => m[0].toLowerCase().includes(path))));
    const k = key[sortCol];
    rows.sort((a, b) => {
      const x = k(a), y = k(b);
      return (x < y ? -1 : x > y ? 1 : a[0] - b[0]) * sortDir;
    });
    shown = PAGE;
    draw();
  }
  function draw() {
    const n = Math.min(shown, rows.length), frag = document.createDocumentFragment();
    for (let i = 0; i < n; i++) {
      const c = rows[i], tr = document.createElement("tr"), a = el("a", null, "#" + c[0]);
      a.href = "#c" + c[0];
      const first = el("td", "num");
      first.appendChild(a);
      tr.append(first, el("td", null, c[1]), el("td", "num", String(c[M].length)),
        el("td", "num", String(c[3])), el("td", "num" + (c[6] ? " low" : ""), c[5]),
        el("td", "mono", c[M][c[2]][0]), el("td", null, c[M][c[2]][3]));
      frag.appendChild(tr);
    }
    $("#toc tbody").replaceChildren(frag);
    $("#toc-count").textContent = "showing " + n + " of " + rows.length +
      " matching clusters (" + C.length + " in the report)";
    $("#more").hidden = n >= rows.length;
  }
  function view(id) {
    const v = $("#view");
    const c = C[id - 1] && C[id - 1][0] === id ? C[id - 1] : C.find((x) => x[0] === id);
    if (!c) { v.replaceChildren(); return []; }
    const h = el("h2", null, c[1] + " cluster " + c[0] + ": " + c[M].length + " copies, " +
      c[3] + " chars, similarity " + c[5]);
    h.id = "c" + c[0];
    const nav = el("p", "meta"), all = el("a", null, "open every diff");
    all.href = "#c" + c[0] + "/diffs";
    nav.append(all, " · ");
    for (const [d, label] of [[-1, "← previous cluster"], [1, "next cluster →"]]) {
      if (!C.find((x) => x[0] === c[0] + d)) continue;
      const a = el("a", null, label);
      a.href = "#c" + (c[0] + d);
      nav.append(a, " ");
    }
    const t = el("table", "list"), head = el("tr");
    const ids = c[M].some((m) => m[1]); // a record id column for JSONL copies only
    for (const x of ["", "location", ids ? "record id" : null, "similarity", "text"]) {
      if (x != null) head.appendChild(el("th", null, x));
    }
    t.appendChild(head);
    const out = [h, nav, t], opens = [];
    if (c[6]) out.splice(1, 0, el("p", "warn", D.below));
    c[M].forEach((m, i) => {
      const tr = el("tr", i === c[2] ? "keep" : null);
      tr.append(el("td", null, i === c[2] ? "keep" : "dup"), el("td", "mono", m[0]));
      if (ids) tr.appendChild(el("td", "mono", m[1]));
      tr.append(el("td", "num", m[2]), el("td", null, m[3]));
      t.appendChild(tr);
      if (i === c[2]) return;
      const d = el("details"), s = el("summary", null, "diff from the kept copy");
      d.appendChild(s);
      if (typeof m[4] === "number") {
        const fill = () => {
          if (d.childNodes.length === 1) d.appendChild(diff(D.diffs[m[4]], "c" + c[0] + "m" + (i + 1)));
        };
        d.addEventListener("toggle", () => { if (d.open) fill(); });
        opens.push(() => { fill(); d.open = true; });
      } else {
        d.append(el("p", "same", D.absent), el("code", "cmd", m[4]));
      }
      const row = el("tr"), cell = el("td");
      cell.colSpan = ids ? 4 : 3;
      cell.appendChild(d);
      row.append(el("td"), cell);
      t.appendChild(row);
    });
    v.replaceChildren(...out);
    h.scrollIntoView();
    return opens;
  }
  // #c12 shows cluster 12; #c12/diffs shows it with every diff open
  function route() {
    const m = /^#c(\d+)(\/diffs)?$/.exec(location.hash);
    if (!m) return;
    const opens = view(parseInt(m[1], 10));
    if (m[2]) opens.forEach((open) => open());
  }
  for (const x of Object.values(f)) x.addEventListener("input", apply);
  document.querySelectorAll("#toc th").forEach((th, i) => th.addEventListener("click", () => {
    sortDir = sortCol === i ? -sortDir : 1;
    sortCol = i;
    apply();
  }));
  $("#more").addEventListener("click", () => { shown = rows.length; draw(); });
  window.addEventListener("hashchange", route);
  apply();
  route();
  // when the page became usable, in ms since navigation (the browser test reads it)
  document.body.dataset.ready = Math.round(performance.now());
})();
