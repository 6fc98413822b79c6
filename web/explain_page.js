/* explain_page.js — attx's teaching page. attxRender(root, doc) draws one explanation from the
 * JSON document of tools/explain_view.c: `attx explain --html` embeds that document, the
 * WebAssembly page (make web) computes it in the browser. Plain script, no libraries, no
 * network. The games of section 4 are computed here from the embedded influence matrix, and
 * checked against attx's own closed form (written into #attx-checks). */
"use strict";

function el(tag, attrs, kids) {
  var e = document.createElement(tag);
  for (var k in attrs || {}) {
    if (k === "text") e.textContent = attrs[k];
    else if (k === "class") e.className = attrs[k];
    else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
    else e.setAttribute(k, attrs[k]);
  }
  (kids || []).forEach(function (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
  return e;
}

function svgEl(tag, attrs) {
  var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
  return e;
}

function fmt(x, d) { return (x >= 0 ? "+" : "") + x.toFixed(d === undefined ? 4 : d); }
function maxAbs(xs) { var m = 0; xs.forEach(function (x) { m = Math.max(m, Math.abs(x)); }); return m; }

/* red for the class, blue against it, opacity |s| / scale (as tools/html.c) */
function scoreColour(s, scale, alpha) {
  var a = (scale > 0 ? Math.abs(s) / scale : 0) * (alpha === undefined ? 0.85 : alpha);
  return s >= 0 ? "rgba(214,39,40," + a.toFixed(3) + ")" : "rgba(31,119,180," + a.toFixed(3) + ")";
}

var tip = null;
function showTip(ev, text) {
  if (!tip) { tip = el("div", {id: "attx-tip"}); document.body.appendChild(tip); }
  tip.textContent = text;
  tip.style.display = "block";
  tip.style.left = (ev.clientX + 14) + "px";
  tip.style.top = (ev.clientY + 14) + "px";
}
function hideTip() { if (tip) tip.style.display = "none"; }

function select(label, options, value, onchange) {
  var s = el("select", {onchange: function () { onchange(s.value); }});
  options.forEach(function (o) {
    var opt = el("option", {value: o[0], text: o[1]});
    if (String(o[0]) === String(value)) opt.selected = true;
    s.appendChild(opt);
  });
  return el("span", {}, [el("label", {text: label + " "}), s]);
}

/* A heat map of the rows x cols matrix get(i, j) on a canvas; signed: red/blue around 0, else
 * white to dark blue. Labels on the axes when there are few. */
function heatmap(title, rows, cols, get, rowNames, colNames, signed) {
  var scale = 0;
  for (var i = 0; i < rows; i++) for (var j = 0; j < cols; j++) scale = Math.max(scale, Math.abs(get(i, j)));
  var size = Math.min(480, Math.max(200, 34 * Math.max(rows, cols)));
  var cell = Math.max(1, Math.floor(size / Math.max(rows, cols)));
  var labels = Math.max(rows, cols) <= 40, margin = labels ? 90 : 4;
  var c = el("canvas", {width: margin + cell * cols + 4, height: margin + cell * rows + 4});
  var g = c.getContext("2d");
  g.font = "12px sans-serif";
  for (i = 0; i < rows; i++)
    for (j = 0; j < cols; j++) {
      var v = get(i, j), a = scale > 0 ? Math.abs(v) / scale : 0;
      if (signed) g.fillStyle = v >= 0 ? "rgba(214,39,40," + a + ")" : "rgba(31,119,180," + a + ")";
      else g.fillStyle = "rgb(" + Math.round(255 - 225 * a) + "," + Math.round(255 - 195 * a) + "," + Math.round(255 - 105 * a) + ")";
      g.fillRect(margin + j * cell, margin + i * cell, cell, cell);
    }
  g.strokeStyle = "#999";
  g.strokeRect(margin - 0.5, margin - 0.5, cell * cols + 1, cell * rows + 1);
  if (labels) {
    g.fillStyle = "#222";
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (i = 0; i < rows; i++) g.fillText(rowNames[i].slice(0, 12), margin - 4, margin + (i + 0.5) * cell);
    for (j = 0; j < cols; j++) {
      g.save();
      g.translate(margin + (j + 0.5) * cell, margin - 4);
      g.rotate(-Math.PI / 2);
      g.textAlign = "left";
      g.fillText(colNames[j].slice(0, 12), 0, 0);
      g.restore();
    }
  }
  c.addEventListener("mousemove", function (ev) {
    var r = c.getBoundingClientRect(), x = ev.clientX - r.left - margin, y = ev.clientY - r.top - margin;
    var jj = Math.floor(x / cell), ii = Math.floor(y / cell);
    if (ii >= 0 && ii < rows && jj >= 0 && jj < cols)
      showTip(ev, rowNames[ii] + " \u2192 " + colNames[jj] + ": " + get(ii, jj).toPrecision(5));
    else hideTip();
  });
  c.addEventListener("mouseleave", hideTip);
  return el("div", {class: "panel"}, [el("h3", {text: title}),
    el("div", {class: "how", text: signed ? "red > 0, blue < 0; largest |value| " + scale.toPrecision(3)
                                          : "white 0 to dark " + scale.toPrecision(3)}), c]);
}

/* An SVG line chart: series [{name, colour, xs, ys, dash}], log axes on request. */
function lineChart(title, series, xlabel, ylabel, logx, logy) {
  var W = 560, H = 320, L = 70, R = 16, T = 16, B = 50;
  var xs = [], ys = [];
  series.forEach(function (s) { xs = xs.concat(s.xs); ys = ys.concat(s.ys); });
  ys = ys.filter(function (y) { return isFinite(y) && (!logy || y > 0); });
  function tx(v) { return logx ? Math.log10(v) : v; }
  function ty(v) { return logy ? Math.log10(Math.max(v, 1e-300)) : v; }
  var x0 = Math.min.apply(null, xs.map(tx)), x1 = Math.max.apply(null, xs.map(tx));
  var y0 = Math.min.apply(null, ys.map(ty)), y1 = Math.max.apply(null, ys.map(ty));
  if (!logy) { y0 = Math.min(0, y0); y1 = Math.max(y1, y0 + 1e-9); }
  if (logy) { y0 = Math.floor(y0); y1 = Math.ceil(y1); if (y1 === y0) y1 = y0 + 1; }
  if (x1 === x0) x1 = x0 + 1;
  function px(v) { return L + (tx(v) - x0) / (x1 - x0) * (W - L - R); }
  function py(v) { return H - B - (ty(v) - y0) / (y1 - y0) * (H - T - B); }
  var svg = svgEl("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H});
  svg.appendChild(svgEl("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#999"}));
  var ticks = [];
  if (logy) for (var e = y0; e <= y1; e++) ticks.push([Math.pow(10, e), "1e" + e]);
  else for (var k = 0; k <= 4; k++) { var v = y0 + (y1 - y0) * k / 4; ticks.push([v, v.toPrecision(2)]); }
  ticks.forEach(function (t) {
    var y = py(t[0]);
    svg.appendChild(svgEl("line", {x1: L, x2: W - R, y1: y, y2: y, stroke: "#eee"}));
    var lab = svgEl("text", {x: L - 6, y: y + 4, "text-anchor": "end", "font-size": 13});
    lab.textContent = t[1];
    svg.appendChild(lab);
  });
  var xt = xs.filter(function (v, i) { return xs.indexOf(v) === i; });
  if (!logx && xt.length > 12) xt = [0, 20, 40, 60, 80, 100];
  xt.forEach(function (v) {
    var lab = svgEl("text", {x: px(v), y: H - B + 18, "text-anchor": "middle", "font-size": 13});
    lab.textContent = String(v);
    svg.appendChild(lab);
  });
  var xl = svgEl("text", {x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle", "font-size": 14});
  xl.textContent = xlabel;
  svg.appendChild(xl);
  var yl = svgEl("text", {x: 14, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 14,
                          transform: "rotate(-90 14 " + (T + H - B) / 2 + ")"});
  yl.textContent = ylabel;
  svg.appendChild(yl);
  series.forEach(function (s) {
    var d = "";
    s.xs.forEach(function (x, i) {
      if (!isFinite(s.ys[i]) || (logy && s.ys[i] <= 0)) return;
      d += (d ? "L" : "M") + px(x).toFixed(1) + "," + py(s.ys[i]).toFixed(1);
    });
    svg.appendChild(svgEl("path", {d: d, fill: "none", stroke: s.colour, "stroke-width": 2.5,
                                   "stroke-dasharray": s.dash || "none"}));
    s.xs.forEach(function (x, i) {
      if (!isFinite(s.ys[i]) || (logy && s.ys[i] <= 0)) return;
      var c = svgEl("circle", {cx: px(x), cy: py(s.ys[i]), r: 3.5, fill: s.colour});
      var t = svgEl("title", {});
      t.textContent = s.name + ": " + x + " \u2192 " + s.ys[i].toPrecision(5);
      c.appendChild(t);
      svg.appendChild(c);
    });
  });
  var legend = el("div", {class: "legend"});
  series.forEach(function (s) {
    legend.appendChild(el("span", {}, [el("i", {style: "background:" + s.colour}), s.name]));
  });
  return el("div", {class: "panel"}, [el("h3", {text: title}), svg, legend]);
}

var PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

/* ---- the games of P1 on the influence matrix (research-notes 1.3) ---- */

/* v(S) of game "cls" | "mutual" | "max-mutual"; S an array of 0/1 per player */
function gameValue(game, M, cls, S) {
  var n = S.length, v = 0, members = [];
  for (var i = 0; i < n; i++) if (S[i]) members.push(i);
  if (game === "cls") { members.forEach(function (p) { v += cls[p]; }); return v; }
  if (members.length === 0) return 0;
  if (members.length === 1) return M[members[0]][members[0]];
  for (var a = 0; a < members.length; a++)
    for (var b = a + 1; b < members.length; b++) {
      var x = M[members[a]][members[b]], y = M[members[b]][members[a]];
      v += game === "mutual" ? x + y : Math.max(x, y);
    }
  return v;
}

/* the closed form of shapley_closed_form.c, written again here */
function closedForm(game, M, cls) {
  var n = cls.length;
  if (game === "cls") return cls.slice();
  if (n === 1) return [M[0][0]];
  var diag = 0, phi = [];
  for (var j = 0; j < n; j++) diag += M[j][j];
  for (var i = 0; i < n; i++) {
    var pairs = 0;
    for (j = 0; j < n; j++) {
      if (j === i) continue;
      pairs += game === "mutual" ? M[i][j] + M[j][i] : Math.max(M[i][j], M[j][i]);
    }
    phi.push(M[i][i] / n + 0.5 * pairs - (diag - M[i][i]) / (n * (n - 1)));
  }
  return phi;
}

function factorial(k) { var f = 1; for (var i = 2; i <= k; i++) f *= i; return f; }

/* every coalition's value (n <= 10), then phi_i = sum over S without i of
 * |S|! (n-|S|-1)! / n! [v(S+i) - v(S)], and the mean marginal contribution by |S| */
function enumerate(game, M, cls) {
  var n = cls.length, count = 1 << n, v = new Float64Array(count);
  for (var mask = 0; mask < count; mask++) {
    var S = [];
    for (var i = 0; i < n; i++) S.push((mask >> i) & 1);
    v[mask] = gameValue(game, M, cls, S);
  }
  var phi = [], bySize = [];
  for (i = 0; i < n; i++) {
    var sum = 0, sizes = [], counts = [];
    for (var s = 0; s < n; s++) { sizes.push(0); counts.push(0); }
    for (mask = 0; mask < count; mask++) {
      if ((mask >> i) & 1) continue;
      var size = 0;
      for (var j = 0; j < n; j++) size += (mask >> j) & 1;
      var d = v[mask | (1 << i)] - v[mask];
      sum += factorial(size) * factorial(n - size - 1) / factorial(n) * d;
      sizes[size] += d;
      counts[size]++;
    }
    phi.push(sum);
    bySize.push(sizes.map(function (x, k) { return x / counts[k]; }));
  }
  return {phi: phi, bySize: bySize, values: v};
}

function maxDiff(a, b) {
  var m = 0;
  for (var i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/* ---- the sections ---- */

function section(root, title, intro) {
  var s = el("section", {id: "attx-section-" + title.split(".")[0]});
  s.appendChild(el("h2", {text: title}));
  if (intro) s.appendChild(el("p", {class: "intro", text: intro}));
  root.appendChild(s);
  return s;
}

function drawHeader(root, doc) {
  root.appendChild(el("h1", {text: "How attx explains this prediction"}));
  var p = el("p", {}, ["model ", el("code", {text: doc.model}), ", input ", el("code", {text: doc.input})]);
  root.appendChild(p);
  var t = el("table", {id: "attx-prediction"});
  doc.labels.forEach(function (lab, k) {
    var row = el("tr", {}, [el("th", {text: lab + (k === doc.predicted ? "  (predicted)" : "") + (k === doc["class"] && k !== doc.predicted ? "  (explained)" : "")}),
      el("td", {class: "num", text: doc.probs[k].toFixed(4)}),
      el("td", {}, [el("span", {class: "bar", style: "width:" + Math.round(300 * doc.probs[k]) + "px"})]),
      el("td", {class: "num how", text: "logit " + fmt(doc.logits[k], 3)})]);
    t.appendChild(row);
  });
  root.appendChild(t);
  root.appendChild(el("p", {class: "how", id: "attx-predicted", "data-class": doc.predicted, "data-label": doc.labels[doc.predicted],
    text: doc.tokens.length + (doc.grid ? " players: the image's patches" : doc.arch === "attn1" ? " players: the words"
                                         : " players: the content tokens ([CLS] and [SEP] are not players)") +
          "; the methods explain class " + doc["class"] + " (" + doc.labels[doc["class"]] + ")."}));
}

function methodNames(doc) { return Object.keys(doc.methods); }

function drawScores(root, doc) {
  var s = section(root, "1. What each method says", doc.grid
    ? "Each patch tinted by its score for the explained class (red: for it, blue: against it), over the image the model saw."
    : "Each token shaded by its score for the explained class (red: for it, blue: against it); each row scaled to its own largest |score|. Hover for the values.");
  var names = methodNames(doc);
  if (!doc.grid) {
    var t = el("table", {id: "attx-scores"});
    names.forEach(function (name) {
      var m = doc.methods[name], scale = maxAbs(m.scores), cell = el("td", {});
      m.scores.forEach(function (x, i) {
        cell.appendChild(el("span", {class: "tok", style: "background:" + scoreColour(x, scale), title: x.toPrecision(6),
                                     "data-score": x}, [doc.tokens[i]]));
      });
      var view = doc.views ? doc.views[name] : null;
      t.appendChild(el("tr", {"data-method": name}, [el("th", {}, [name, el("div", {class: "how", text: (view ? view.how + "; " : "") +
        m.time_ms.toFixed(1) + " ms, " + m.forward_passes + " forward, " + m.backward_passes + " backward"})]), cell]));
    });
    s.appendChild(t);
    return;
  }
  /* image: the picture under the chosen method's patch scores, with an opacity slider */
  var state = {method: names[0], opacity: 0.6};
  var gh = doc.grid[0], gw = doc.grid[1];
  var canvas = el("canvas", {id: "attx-overlay", width: 448, height: Math.round(448 * doc.image_size[0] / doc.image_size[1])});
  var img = new Image();
  function draw() {
    var g = canvas.getContext("2d"), m = doc.methods[state.method], scale = maxAbs(m.scores);
    g.clearRect(0, 0, canvas.width, canvas.height);
    if (img.complete && img.naturalWidth) { g.imageSmoothingEnabled = false; g.drawImage(img, 0, 0, canvas.width, canvas.height); }
    var cw = canvas.width / gw, ch = canvas.height / gh;
    for (var y = 0; y < gh; y++)
      for (var x = 0; x < gw; x++) {
        g.fillStyle = scoreColour(m.scores[y * gw + x], scale, state.opacity);
        g.fillRect(x * cw, y * ch, cw, ch);
      }
  }
  img.onload = draw;
  if (doc.image) img.src = doc.image;
  canvas.addEventListener("mousemove", function (ev) {
    var r = canvas.getBoundingClientRect(), x = Math.floor((ev.clientX - r.left) / (canvas.width / gw)),
        y = Math.floor((ev.clientY - r.top) / (canvas.height / gh));
    if (x >= 0 && x < gw && y >= 0 && y < gh) showTip(ev, "patch " + y + "," + x + ": " + doc.methods[state.method].scores[y * gw + x].toPrecision(5));
  });
  canvas.addEventListener("mouseleave", hideTip);
  var slider = el("input", {type: "range", min: 0, max: 100, value: 60, id: "attx-opacity",
                            oninput: function () { state.opacity = slider.value / 100; draw(); }});
  s.appendChild(el("div", {class: "controls"}, [
    select("method", names.map(function (n) { return [n, n]; }), state.method, function (v) { state.method = v; draw(); }),
    el("span", {}, [el("label", {text: "overlay opacity "}), slider])]));
  s.appendChild(canvas);
  draw();
}

function drawAttention(root, doc) {
  if (!doc.attentions) return;
  var L = doc.attentions.length, H = doc.attentions[0].length, seq = doc.sequence;
  var s = section(root, "2. Attention A and its gradient dA",
    "A[l][h] is the attention of layer l, head h: row = the token that looks (query), column = the token looked at (key); each row sums to 1. " +
    "dA is the gradient of the explained logit with respect to A (one backward pass). The attention-gradient games use A \u2299 ReLU(dA): attention that raises the logit.");
  var state = {layer: L - 1, head: "mean"};
  var panels = el("div", {class: "panels"});
  function mean(t, l, h) {   /* t[l][h] or its mean over heads */
    if (h !== "mean") return t[l][h];
    var Q = t[l][0].length, K = t[l][0][0].length, out = [];
    for (var q = 0; q < Q; q++) {
      var row = [];
      for (var k = 0; k < K; k++) { var x = 0; for (var hh = 0; hh < H; hh++) x += t[l][hh][q][k]; row.push(x / H); }
      out.push(row);
    }
    return out;
  }
  function draw() {
    panels.textContent = "";
    var A = mean(doc.attentions, state.layer, state.head), rowNames = A.length === 1 ? [seq[0]] : seq;
    var what = "layer " + state.layer + (state.head === "mean" ? ", mean of the " + H + " heads" : ", head " + state.head);
    panels.appendChild(heatmap("A, " + what, A.length, A[0].length, function (i, j) { return A[i][j]; }, rowNames, seq, false));
    if (doc.gradients) {
      var dA = mean(doc.gradients, state.layer, state.head);
      panels.appendChild(heatmap("dA, " + what, dA.length, dA[0].length, function (i, j) { return dA[i][j]; }, rowNames, seq, true));
      var l = state.layer, hs = state.head === "mean" ? Array.from({length: H}, function (_, i) { return i; }) : [state.head];
      panels.appendChild(heatmap("A \u2299 ReLU(dA), " + what, A.length, A[0].length, function (i, j) {
        var x = 0;
        hs.forEach(function (h) { x += doc.attentions[l][h][i][j] * Math.max(0, doc.gradients[l][h][i][j]); });
        return x / hs.length;
      }, rowNames, seq, false));
    }
  }
  var layers = [], heads = [["mean", "mean of heads"]];
  for (var l = 0; l < L; l++) layers.push([l, "layer " + l]);
  for (var h = 0; h < H; h++) heads.push([h, "head " + h]);
  s.appendChild(el("div", {class: "controls"}, [
    select("layer", layers, state.layer, function (v) { state.layer = +v; draw(); }),
    select("head", heads, state.head, function (v) { state.head = v === "mean" ? v : +v; draw(); })]));
  s.appendChild(panels);
  draw();
}

function drawGame(root, doc) {
  if (!doc.influence || !doc.views) return;
  var games = methodNames(doc).filter(function (n) { return doc.views[n] && doc.views[n].game; });
  var s = section(root, "3. The influence matrix M and the game it defines",
    "M = the mean over heads and " + (doc.layers_averaged ? "layers " + doc.layers_averaged.join(",") : "all layers") +
    " of A (att-) or A \u2299 ReLU(dA) (grad-att-), restricted to the players. A game gives every coalition S of players a value v(S); " +
    "a player's Shapley value is its average marginal contribution v(S + i) \u2212 v(S) over the orders in which the players arrive.");
  var checks = {};
  games.forEach(function (name) {   /* the page's own numbers against attx's */
    var view = doc.views[name], inf = doc.influence[view.influence];
    var cf = closedForm(view.game, inf.M, inf.cls);
    checks[name] = {closed_form_vs_attx: maxDiff(cf, view.closed_form), closed_form_vs_scores: maxDiff(cf, doc.methods[name].scores)};
    if (cf.length <= 10) checks[name].enumeration_vs_closed_form = maxDiff(enumerate(view.game, inf.M, inf.cls).phi, cf);
  });
  if (!games.length) {
    s.appendChild(el("p", {text: "None of the methods asked for is an attention game (att-cls, grad-att-cls, att-mutual, grad-att-mutual, att-max-mutual, grad-att-max-mutual)."}));
  }
  /* the page's own numbers against attx's, folded away (tests read them) */
  var pre = el("details", {});
  pre.appendChild(el("summary", {class: "how", text: "this page's checks against attx (largest differences)"}));
  pre.appendChild(el("pre", {id: "attx-checks", class: "how", text: JSON.stringify(checks)}));
  if (!games.length) { s.appendChild(pre); return; }
  var n = doc.tokens.length, state = {method: games[0], S: doc.tokens.map(function () { return 0; }), focus: 0};
  var body = el("div", {});
  var GAMES = {"cls": "CLS: v(S) = \u03a3 over i in S of M[CLS][i], additive: \u03c6_i = M[CLS][i]",
               "mutual": "Mutual: v({i}) = M_ii; v(S) = \u03a3 over ordered pairs i \u2260 j in S of M_ij",
               "max-mutual": "Max-Mutual: v({i}) = M_ii; v(S) = \u03a3 over pairs i < j in S of max(M_ij, M_ji)"};
  function draw() {
    body.textContent = "";
    var view = doc.views[state.method], inf = doc.influence[view.influence], M = inf.M;
    var panels = el("div", {class: "panels"});
    panels.appendChild(heatmap("M (" + view.influence + ")", n, n, function (i, j) { return M[i][j]; }, doc.tokens, doc.tokens, false));
    panels.appendChild(heatmap("[CLS] row of M", 1, n, function (i, j) { return inf.cls[j]; }, ["[CLS]"], doc.tokens, false));
    body.appendChild(panels);
    body.appendChild(el("p", {class: "big", text: GAMES[view.game]}));
    /* the coalition */
    var players = el("div", {id: "attx-coalition"});
    doc.tokens.forEach(function (t, i) {
      players.appendChild(el("span", {class: "tok player" + (state.S[i] ? " in" : "") + (i === state.focus ? " focus" : ""),
        title: "click: in or out of S; shift-click: the player whose contributions are shown",
        onclick: function (ev) { if (ev.shiftKey) state.focus = i; else state.S[i] = 1 - state.S[i]; draw(); }}, [t]));
    });
    body.appendChild(el("p", {}, ["Click players into the coalition S (shift-click picks the player i below):"]));
    body.appendChild(players);
    var v = gameValue(view.game, M, inf.cls, state.S), i = state.focus;
    var withI = state.S.slice(), without = state.S.slice();
    withI[i] = 1;
    without[i] = 0;
    var vi = gameValue(view.game, M, inf.cls, withI), vo = gameValue(view.game, M, inf.cls, without);
    body.appendChild(el("p", {class: "big", id: "attx-vs", text: "v(S) = " + v.toPrecision(6)}));
    body.appendChild(el("p", {text: "player i = " + doc.tokens[i] + ": v(S \u222a {i}) \u2212 v(S \u2216 {i}) = " + vi.toPrecision(6) + " \u2212 " +
                                    vo.toPrecision(6) + " = " + (vi - vo).toPrecision(6)}));
    var cf = closedForm(view.game, M, inf.cls), en = n <= 10 ? enumerate(view.game, M, inf.cls) : null;
    if (en) {
      var sizes = en.bySize[i], xs = sizes.map(function (_, k) { return k; });
      body.appendChild(el("div", {class: "panels"}, [
        lineChart("marginal contributions of " + doc.tokens[i] + " by |S| (their mean over sizes is \u03c6_i = " + cf[i].toPrecision(5) + ")",
                  [{name: "mean of v(S + i) \u2212 v(S) over the S of that size", colour: "#d62728", xs: xs, ys: sizes}],
                  "|S| (players already there)", "marginal contribution", false, false)]));
    }
    var t = el("table", {id: "attx-shapley"}, [el("tr", {}, [el("th", {text: "player"}), el("th", {text: "attx's score"}),
      el("th", {text: "closed form (attx)"}), el("th", {text: "closed form (this page)"}),
      el("th", {text: n <= 10 ? "enumeration of all " + (1 << n) + " coalitions (this page)" : "enumeration (n \u2264 10 only)"})])]);
    var sum = 0;
    cf.forEach(function (x, p) {
      sum += x;
      t.appendChild(el("tr", {}, [el("td", {class: "mono", text: doc.tokens[p]}), el("td", {class: "num", text: fmt(doc.methods[state.method].scores[p], 6)}),
        el("td", {class: "num", text: fmt(view.closed_form[p], 6)}), el("td", {class: "num", text: fmt(x, 6)}),
        el("td", {class: "num", text: en ? fmt(en.phi[p], 6) : "\u2014"})]));
    });
    body.appendChild(t);
    var full = gameValue(view.game, M, inf.cls, doc.tokens.map(function () { return 1; }));
    var c = checks[state.method], good = c.closed_form_vs_attx < 1e-9 && (c.enumeration_vs_closed_form === undefined || c.enumeration_vs_closed_form < 1e-9);
    body.appendChild(el("p", {}, ["efficiency: \u03a3 \u03c6 = " + sum.toPrecision(6) + ", v(N) \u2212 v(\u2205) = " + full.toPrecision(6) + ". ",
      el("span", {class: good ? "ok" : "bad", text: good ? "This page's closed form and enumeration agree with attx." : "This page's numbers differ from attx's."})]));
  }
  s.appendChild(el("div", {class: "controls"}, [select("method", games.map(function (g) { return [g, g]; }), state.method,
                                                       function (v) { state.method = v; draw(); })]));
  s.appendChild(body);
  s.appendChild(pre);
  draw();
}

function drawFaithfulness(root, doc) {
  if (!doc.views) return;
  var names = methodNames(doc).filter(function (n) { return doc.views[n].faithfulness; });
  if (!names.length) return;
  var s = section(root, "4. Faithfulness on this input",
    "v = the probability of the predicted class. Comprehensiveness: remove each method's top k% players (" + (doc.grid ? "patches set to the baseline" : "tokens replaced by [MASK]") +
    ") \u2014 a faithful method makes v drop fast. Sufficiency: keep only its top k% \u2014 a faithful method keeps v high. " +
    "The numbers in the legend are P1's comprehensiveness (higher is better) and sufficiency (lower is better): mean of v(N) \u2212 v over k \u2208 {0, 10, 20, 50}%.");
  var removed = [], kept = [];
  names.forEach(function (n, i) {
    var f = doc.views[n].faithfulness, label = n + " (comp " + f.comprehensiveness.toFixed(3) + ", suff " + f.sufficiency.toFixed(3) + ")";
    removed.push({name: label, colour: PALETTE[i % PALETTE.length], xs: f.percent, ys: f.v_removed});
    kept.push({name: label, colour: PALETTE[i % PALETTE.length], xs: f.percent, ys: f.v_kept});
  });
  s.appendChild(el("div", {class: "panels"}, [
    lineChart("v with the top k% removed", removed, "k: % of the players removed", "p(predicted class)", false, false),
    lineChart("v with only the top k% kept", kept, "k: % of the players kept", "p(predicted class)", false, false)]));
}

function drawConvergence(root, doc) {
  var c = doc.convergence;
  if (!c) return;
  var s = section(root, "5. Sampling the Shapley values of " + c.method,
    "When a game is too large to enumerate, its Shapley values are estimated from samples. Here two samplers run on " + c.method +
    "'s game at growing budgets; the error is measured against the exact value (its closed form). " +
    "Permutation sampling walks random orders of the players and averages each one's marginal contributions; Kernel SHAP fits a weighted regression to sampled coalitions.");
  var series = [];
  c.samplers.forEach(function (sm, i) {
    var xs = sm.runs.map(function (r) { return r.budget; });
    series.push({name: sm.sampler + ": largest |\u03c6 \u2212 exact| (per " + sm.unit + ")", colour: PALETTE[i], xs: xs,
                 ys: sm.runs.map(function (r) { return maxDiff(r.phi, c.exact); })});
    series.push({name: sm.sampler + ": mean |\u03c6 \u2212 exact|", colour: PALETTE[i], dash: "6 4", xs: xs,
                 ys: sm.runs.map(function (r) { var m = 0; r.phi.forEach(function (x, k) { m += Math.abs(x - c.exact[k]); }); return m / r.phi.length; })});
  });
  var scale = maxAbs(c.exact);
  s.appendChild(el("div", {class: "panels"}, [lineChart("error against the exact Shapley values (largest |exact| " + scale.toPrecision(3) + ")",
    series, "budget (permutations or coalitions)", "error", true, true)]));
}

function attxRender(root, doc) {
  root.textContent = "";
  window.attxDoc = doc;
  drawHeader(root, doc);
  drawScores(root, doc);
  drawAttention(root, doc);
  drawGame(root, doc);
  drawFaithfulness(root, doc);
  drawConvergence(root, doc);
  root.setAttribute("data-rendered", "1");
}
