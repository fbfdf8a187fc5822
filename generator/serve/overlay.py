"""The error overlay: every problem of the last failed rebuild, over every open page.

A page gets the current problems with its HTML (``snippet``), so a page opened or reloaded
while the site is broken shows them at once. When a rebuild fails or is fixed, the dev server
sends the LiveReload command ``reload`` with the path ``ERRORS_URL``: the overlay script is a
LiveReload plugin (livereload.js hands every reload to its plugins first), and for that path it
fetches the problems as JSON and shows or hides the overlay, without reloading the page.
"""

from __future__ import annotations

import json

from .reload import SCRIPT_URL

ERRORS_URL = "/__codesite/errors"
SCRIPT = "/__codesite/overlay.js"
OVERLAY_ID = "codesite-overlay"

OVERLAY_JS = """(function () {
  "use strict";
  var ID = "__ID__", URL = "__URL__";
  function show(errors) {
    var box = document.getElementById(ID);
    if (!errors || !errors.length) {
      if (box) box.remove();
      return;
    }
    if (!box) {
      box = document.createElement("div");
      box.id = ID;
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;inset:0;z-index:2147483647;overflow:auto;margin:0;" +
        "padding:1.5rem 2rem;background:rgba(24,8,8,.94);color:#fde8e8;" +
        "font:14px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;text-align:left";
      (document.body || document.documentElement).appendChild(box);
    }
    box.textContent = "";
    var title = document.createElement("h2");
    title.style.cssText = "margin:0 0 1rem;font:bold 16px/1.4 inherit;color:#ff8f8f";
    title.textContent = "codesite: the site has " + errors.length +
      (errors.length === 1 ? " problem" : " problems") +
      ". The last good build is served; this goes away when the files are fixed.";
    box.appendChild(title);
    var list = document.createElement("pre");
    list.className = "codesite-errors";
    list.style.cssText = "margin:0;white-space:pre-wrap;font:inherit";
    list.textContent = errors.join("\\n");
    box.appendChild(list);
  }
  var initial = document.getElementById("codesite-initial-errors");
  var generation = initial ? initial.getAttribute("data-generation") : null;
  function refresh(connected) {
    fetch(URL, {cache: "no-store"}).then(function (r) { return r.json(); })
      .then(function (d) {
        // a page (re)connected after a rebuild it was not told of: the site has changed since
        // it was served (its LiveReload connection was down, or not yet greeted, at the reload)
        if (connected && generation !== null && String(d.generation) !== generation) {
          location.reload();
          return;
        }
        show(d.errors);
      }, function () {});
  }
  document.addEventListener("LiveReloadConnect", function () { refresh(true); });
  function Plugin() {}
  Plugin.identifier = "codesite-overlay";
  Plugin.version = "1.0";
  Plugin.prototype.reload = function (path) {
    if (path !== URL) return false;
    refresh(false);
    return true;
  };
  Plugin.prototype.analyze = function () { return {}; };
  window.LiveReloadPluginCodesiteOverlay = Plugin;
  var errors = initial ? JSON.parse(initial.textContent) : [];
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { show(errors); });
  } else {
    show(errors);
  }
})();
""".replace("__ID__", OVERLAY_ID).replace("__URL__", ERRORS_URL)


def errors_json(errors: list[str], generation: int) -> bytes:
    """The current problems, and the site's generation (``Preview.generation``)."""
    return json.dumps({"errors": errors, "generation": generation}, ensure_ascii=False).encode()


def snippet(errors: list[str], live: bool, version: str, generation: int) -> str:
    """What goes at the end of every HTML page: the current problems, the overlay script and
    (when watching) livereload.js, which finds its port from its own URL. The scripts' URLs
    carry ``version`` (of both scripts): the browser keeps them while a page reloads. The
    page's ``generation``: when its LiveReload connection comes up, a page served before the
    last rebuild that changed files reloads (it missed that rebuild's reload)."""
    data = json.dumps(errors, ensure_ascii=False).replace("<", "\\u003c")
    out = (f'<script type="application/json" id="codesite-initial-errors" data-generation="{generation}">'
           f"{data}</script>")
    out += f'<script src="{SCRIPT}?v={version}"></script>'
    if live:
        out += f'<script src="{SCRIPT_URL}?v={version}"></script>'
    return out


def inject(html: bytes, extra: str) -> bytes:
    """``extra`` before the page's last ``</body>`` (at the end when there is none)."""
    at = html.rfind(b"</body>")
    data = extra.encode()
    return html + data if at < 0 else html[:at] + data + html[at:]

