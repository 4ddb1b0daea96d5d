// live.js brings a run page up to date while the run goes on: the
// server-sent events of /runs/N/live set the data-state of the graph's
// nodes and of the logs, and append new log lines. It also filters the
// log lines as one types a search. The page is complete without it.
(function () {
  "use strict";
  var search = document.querySelector("form.log-search input[name=q]");
  function matches(li) {
    var q = search ? search.value.toLowerCase() : "";
    return !q || li.textContent.toLowerCase().indexOf(q) >= 0;
  }
  if (search) {
    search.addEventListener("input", function () {
      document.querySelectorAll("ol.log li").forEach(function (li) { li.hidden = !matches(li); });
    });
  }

  var run = document.querySelector("article.run[data-live]");
  if (!run || !window.EventSource) return;

  // The approvals the page shows: a new or decided one needs buttons the
  // server draws, so the page reloads for it.
  var known = {};
  (run.getAttribute("data-known") || "").split(" ").forEach(function (kv) {
    var i = kv.indexOf("=");
    if (i > 0) known[kv.slice(0, i)] = kv.slice(i + 1);
  });
  function reload() { setTimeout(function () { location.reload(); }, 300); }

  function each(action, fn) {
    document.querySelectorAll("[data-action]").forEach(function (el) {
      if (el.getAttribute("data-action") === action) fn(el);
    });
  }

  function setState(d) {
    each(d.action, function (el) {
      el.setAttribute("data-state", d.state);
      var state = el.querySelector(".state");
      if (state) state.textContent = d.state;
      var dur = el.querySelector(".dur");
      if (dur && d.duration) dur.textContent = d.duration;
    });
  }

  function logOf(section, attempt) {
    var ol = section.querySelector('ol.log[data-attempt="' + attempt + '"]');
    if (ol) return ol;
    if (attempt > 1) {
      var h = document.createElement("h4");
      h.textContent = "attempt " + attempt;
      section.appendChild(h);
    }
    ol = document.createElement("ol");
    ol.className = "log";
    ol.setAttribute("data-attempt", attempt);
    section.appendChild(ol);
    return ol;
  }

  function addLine(d) {
    each(d.action, function (section) {
      if (!section.classList.contains("action-log")) return;
      var n = (parseInt(section.getAttribute("data-lines"), 10) || 0) + 1;
      section.setAttribute("data-lines", n);
      var id = section.getAttribute("data-line-prefix") + n;
      var li = document.createElement("li");
      li.id = id;
      var a = document.createElement("a");
      a.className = "ln";
      a.href = "#" + id;
      a.textContent = n;
      li.appendChild(a);
      (d.spans || []).forEach(function (s) {
        if (!s.c) { li.appendChild(document.createTextNode(s.t)); return; }
        var span = document.createElement("span");
        span.className = s.c;
        span.textContent = s.t;
        li.appendChild(span);
      });
      li.hidden = !matches(li);
      logOf(section, d.attempt || 1).appendChild(li);
    });
  }

  var es = new EventSource(run.getAttribute("data-live"));
  function on(kind, fn) {
    es.addEventListener(kind, function (e) { fn(JSON.parse(e.data)); });
  }
  on("state", setState);
  on("line", addLine);
  on("approval", function (d) { if (known[d.stage] !== d.status) { es.close(); reload(); } });
  on("finished", function () { es.close(); reload(); });
  // A stream that ends before the run does is of a run another process
  // executes, replayed from the journal: the page follows it by reloading.
  on("end", function () { es.close(); setTimeout(function () { location.reload(); }, 5000); });
})();
