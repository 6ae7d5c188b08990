// kyc-receiver console: small enhancements only. Every page works without this file.
// Single-key shortcuts are off inside inputs; none submits a decision or reveals personal data.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  // Queue: j/k move the highlighted row, Enter opens it.
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr"));
  var at = -1;
  function highlight(i) {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, n) { r.classList.toggle("current", n === at); });
    var link = rows[at].querySelector("a");
    if (link) link.focus();
  }
  // Images: tools toggle classes on the loaded <img>; nothing is fetched again.
  var rotations = ["", "rot-90", "rot-180", "rot-270"];
  function tool(name, img) {
    if (name === "zoom") img.classList.toggle("zoom-2");
    if (name === "contrast") img.classList.toggle("contrast");
    if (name === "invert") img.classList.toggle("invert");
    if (name === "rotate") {
      var now = rotations.findIndex(function (r) { return r && img.classList.contains(r); });
      if (now >= 0) img.classList.remove(rotations[now]);
      var next = rotations[(now + 1 + rotations.length) % rotations.length] || rotations[1];
      if (now === 3) next = "";
      if (next) img.classList.add(next);
    }
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button[data-tool]") : null;
    if (!b) return;
    var img = document.getElementById(b.getAttribute("data-target"));
    if (img) tool(b.getAttribute("data-tool"), img);
  });
  // Mapping dry run: a chosen file fills the payload box (pasting works without this).
  var upload = document.getElementById("payload-file");
  if (upload) {
    upload.closest("[hidden]") && upload.closest("[hidden]").removeAttribute("hidden");
    upload.addEventListener("change", function () {
      var f = upload.files && upload.files[0];
      if (f) f.text().then(function (t) { document.getElementById("payload").value = t; });
    });
  }
  // A result or an error announced after a form: move focus to it.
  var result = document.querySelector("[data-focus]");
  if (result) result.focus();
  document.addEventListener("keydown", function (e) {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (rows.length && (e.key === "j" || e.key === "k")) {
      highlight(at + (e.key === "j" ? 1 : -1));
      e.preventDefault();
    }
  });
})();
