// The demo site's own script: the widget's queueing stub (so ChatBridge(...) calls made
// before loader.js has loaded are kept), then a button that opens the chat.
window.ChatBridge = window.ChatBridge || function () {
  (window.ChatBridge.q = window.ChatBridge.q || []).push(arguments);
};

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-chat-open]").forEach(function (button) {
    button.addEventListener("click", function () { window.ChatBridge("open"); });
  });
  window.ChatBridge("on", "unread", function (data) {
    document.title = (data.count ? "(" + data.count + ") " : "") + document.title.replace(/^\(\d+\+?\) /, "");
  });
});
