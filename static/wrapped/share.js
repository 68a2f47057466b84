// The share page's one button: the Web Share API where the browser has it (phones),
// else copy the link to the clipboard, else select it in a prompt-free text field.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    var button = document.querySelector("[data-share]");
    var status = document.querySelector("[data-share-status]");
    if (!button) return;
    function say(text) { if (status) status.textContent = text; }
    function copy(url) {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        return navigator.clipboard.writeText(url).then(function () { say("Link copied"); });
      }
      var field = document.createElement("input");
      field.value = url;
      field.setAttribute("readonly", "");
      field.setAttribute("aria-label", "Share link");
      button.insertAdjacentElement("afterend", field);
      field.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      say(ok ? "Link copied" : "Copy the link above");
      return Promise.resolve();
    }
    button.addEventListener("click", function () {
      var data = { title: button.dataset.title, text: button.dataset.text, url: button.dataset.url };
      if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
        navigator.share(data).catch(function (error) {
          if (error && error.name === "AbortError") return;
          return copy(data.url);
        });
      } else {
        copy(data.url).catch(function () { say("Copy the link: " + data.url); });
      }
    });
  });
})();
