/* motcua web chat: shows the conversation, sends typed text and pressed buttons, and polls
   for messages the bot sends on its own. No framework, no build step, no third-party host:
   it talks only to /chat/api/messages on the server that served it. Plain ES2017 so that
   old phone browsers run it too. */
(function () {
  "use strict";

  var API = "/chat/api/messages";
  var MAX_LEN = 4000;
  var WARN_LEFT = 500; // show the counter when this few characters are left
  var POLL_MS = 4000;
  var POLL_MAX_MS = 30000;
  var TIMEOUT_MS = 30000;
  var SEND_FAILED = "Xin lỗi, chưa gửi được. Vui lòng thử lại.";
  var LOAD_FAILED = "Xin lỗi, chưa kết nối được với máy chủ. Trang sẽ tự thử lại sau ít giây.";
  var URL_RE = /https?:\/\/[^\s<>"]+/g;
  var URL_TAIL_RE = /[.,;:!?)\]}'"»”’]+$/; // punctuation that ends a sentence, not the URL

  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var sendButton = document.getElementById("send");
  var typing = document.getElementById("typing");
  var counter = document.getElementById("counter");
  var photoInput = document.getElementById("photo");
  var PHOTO_API = "/chat/api/photos";
  var PHOTO_MAX = 5 * 1024 * 1024; // the server checks WEB_PHOTO_MAX_BYTES too
  var PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
  var PHOTO_BUBBLE = "(Ảnh đính kèm)"; // as the server keeps it in the history
  var PHOTO_REFUSED = "Dạ, em chỉ nhận ảnh JPEG, PNG hoặc WebP đến 5 MB. Anh/chị vui lòng chọn ảnh khác ạ.";

  var seen = {}; // ids already handled, so polling never shows a message twice
  var lastId = 0; // poll cursor: everything up to here has been fetched by GET
  var echoUpTo = 0; // user messages up to this id echo what this page sent itself
  var busy = false; // a POST is in flight
  var queued = false; // Enter pressed while it was: the text is sent once it is done
  var epoch = 0; // bumped by every POST; a poll started before it is discarded
  var started = false;
  var polling = false;
  var pollTimer = null;
  var pollDelay = POLL_MS;

  function el(tag, className, text) { // text is always set as text, never as HTML
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  /** Only http(s) links become clickable; anything else (javascript:, data:) does not. */
  function safeUrl(raw) {
    var url = null;
    try { url = new URL(String(raw), window.location.href); } catch (e) { return null; }
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  }

  function newTabLink(href, className, text) {
    var a = el("a", className, text);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener";
    return a;
  }

  /** Text as text nodes (never parsed as HTML), bare http(s) URLs turned into links. */
  function appendLinkified(parent, text) {
    var re = new RegExp(URL_RE.source, "g");
    var from = 0;
    var match;
    while ((match = re.exec(text)) !== null) {
      var url = match[0].replace(URL_TAIL_RE, "");
      var href = safeUrl(url);
      if (!href) continue;
      parent.appendChild(document.createTextNode(text.slice(from, match.index)));
      parent.appendChild(newTabLink(href, "", url));
      from = re.lastIndex = match.index + url.length;
    }
    parent.appendChild(document.createTextNode(text.slice(from)));
  }

  function renderButton(button) {
    var label = String(button.label || "");
    var href = button.url ? safeUrl(button.url) : null;
    if (href) {
      var a = newTabLink(href, "btn", label);
      a.appendChild(el("span", "ext", "↗")).setAttribute("aria-hidden", "true");
      a.appendChild(el("span", "sr-only", " (mở trong thẻ mới)"));
      return a;
    }
    if (!button.action) return null;
    var b = el("button", "btn", label);
    b.type = "button";
    b.addEventListener("click", function () {
      // The label goes along so the server can keep it as the citizen's side of history.
      send({ action: String(button.action), label: label }, label);
    });
    return b;
  }

  function renderMessage(msg) {
    var who = msg.from === "user" ? "user" : "bot";
    var item = el("div", "msg " + who);
    var bubble = item.appendChild(el("div", "bubble"));
    bubble.appendChild(el("span", "sr-only", who === "user" ? "Bạn: " : "Trợ lý: "));
    appendLinkified(bubble, String(msg.text || ""));
    (msg.buttons || []).forEach(function (row) {
      var rowNode = el("div", "btn-row");
      (row || []).forEach(function (button) {
        var node = button && renderButton(button);
        if (node) rowNode.appendChild(node);
      });
      if (rowNode.firstChild) item.appendChild(rowNode);
    });
    return item;
  }

  function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }
  function scrollToEnd() { log.scrollTop = log.scrollHeight; }
  /** Show a new reply from its start: a long answer is read from its first line, not from
      its disclaimer at the end (a short one ends up fully in view either way). */
  function scrollToStart(node) {
    var offset = node.getBoundingClientRect().top - log.getBoundingClientRect().top;
    log.scrollTop = Math.min(log.scrollTop + offset - 8, log.scrollHeight);
  }

  function notice(text) {
    var item = log.appendChild(el("div", "msg notice"));
    item.appendChild(el("div", "bubble", text));
    scrollToEnd();
    return item;
  }

  /** Render an API answer, skipping ids already shown and echoes of our own sends. */
  function show(data, fromPost) {
    var stick = fromPost || nearBottom();
    var maxId = Number(data.last_id) || 0;
    var firstReply = null;
    (data.messages || []).forEach(function (msg) {
      var id = Number(msg.id) || 0;
      if (id && seen[id]) return;
      seen[id] = true;
      maxId = Math.max(maxId, id);
      var echo = msg.from === "user" && (fromPost || id <= echoUpTo || msg.text === "/start");
      if (echo) return;
      var node = log.appendChild(renderMessage(msg));
      if (msg.from !== "user" && !firstReply) firstReply = node;
    });
    // A POST does not move the poll cursor: the next GET also picks up whatever the bot
    // sent on its own meanwhile, and `seen` keeps the replies from showing twice.
    if (fromPost) echoUpTo = Math.max(echoUpTo, maxId);
    else lastId = Math.max(lastId, maxId);
    if (stick && firstReply && started) scrollToStart(firstReply);
    else if (stick) scrollToEnd();
  }

  function ApiError(message) { this.message = message; }

  async function api(method, url, body, file) {
    var ctrl = window.AbortController ? new AbortController() : null;
    var timer = ctrl && setTimeout(function () { ctrl.abort(); }, TIMEOUT_MS);
    var headers = body ? { Accept: "application/json", "Content-Type": "application/json" }
      : { Accept: "application/json" };
    if (file) headers = { Accept: "application/json", "Content-Type": file.type };
    try {
      var res = await fetch(url, { method: method, credentials: "same-origin", headers: headers,
        body: file || (body ? JSON.stringify(body) : undefined),
        signal: ctrl ? ctrl.signal : undefined });
      var data = await res.json().catch(function () { return null; });
      if (!res.ok) throw new ApiError(data && typeof data.error === "string" ? data.error : "");
      return data || {};
    } finally {
      clearTimeout(timer);
    }
  }

  function setBusy(value) {
    var stick = nearBottom(); // the indicator takes room from the log
    busy = value;
    typing.hidden = !value;
    sendButton.setAttribute("aria-disabled", String(value));
    if (stick) scrollToEnd();
  }

  /** POST typed text or a pressed button (or a photo file); `bubble` is what the citizen
      sees as their own. */
  async function send(body, bubble, file) {
    if (busy) return false;
    setBusy(true);
    epoch += 1;
    body.id = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2); // dedupe key
    var mine = bubble ? log.appendChild(renderMessage({ from: "user", text: bubble })) : null;
    scrollToEnd();
    try {
      show(file ? await api("POST", PHOTO_API, null, file) : await api("POST", API, body), true);
      return true;
    } catch (err) {
      if (mine) log.removeChild(mine);
      // Only the server's own (Vietnamese) words are shown; browser errors are English.
      notice(err instanceof ApiError && err.message ? err.message : SEND_FAILED);
      return false;
    } finally {
      setBusy(false);
      schedulePoll(POLL_MS);
      if (queued) {
        queued = false;
        submitTyped();
      }
    }
  }

  async function submitTyped() {
    var text = input.value.trim().slice(0, MAX_LEN);
    if (!text) return;
    if (busy) {
      queued = true; // a citizen who types while the greeting loads is not ignored
      return;
    }
    input.value = "";
    onInput();
    if (!(await send({ text: text }, text)) && !input.value) {
      input.value = text; // nothing typed is lost
      onInput();
    }
  }

  function onInput() {
    var stick = nearBottom(); // a growing input takes room from the log
    input.style.height = "auto";
    input.style.height = input.scrollHeight + 4 + "px"; // + the 2px borders
    var left = MAX_LEN - input.value.length;
    counter.hidden = left > WARN_LEFT;
    counter.textContent = "Còn " + left + " ký tự";
    counter.className = left < 100 ? "counter low" : "counter";
    if (stick) scrollToEnd();
  }

  function schedulePoll(ms) {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (started && !polling && !document.hidden) pollTimer = setTimeout(poll, ms);
  }

  async function poll() {
    pollTimer = null;
    if (busy) return; // send() schedules the next poll when it is done
    polling = true;
    var myEpoch = epoch;
    try {
      var data = await api("GET", API + "?after=" + lastId);
      if (myEpoch === epoch && !busy) show(data, false);
      pollDelay = POLL_MS;
    } catch (e) {
      pollDelay = Math.min(pollDelay * 2, POLL_MAX_MS); // quiet back-off while offline
    } finally {
      polling = false;
    }
    schedulePoll(pollDelay);
  }

  async function start(attempt, offline) {
    var data;
    try {
      data = await api("GET", API + "?after=0");
    } catch (e) {
      offline = offline || notice(LOAD_FAILED);
      var delay = Math.min(POLL_MS * Math.pow(2, attempt), POLL_MAX_MS);
      setTimeout(start, delay, attempt + 1, offline);
      return;
    }
    if (offline) log.removeChild(offline);
    show(data, false);
    scrollToEnd();
    started = true;
    if ((data.messages || []).length) schedulePoll(POLL_MS);
    else await send({ text: "/start" }, null); // greeting and main menu, no user bubble
  }

  photoInput.addEventListener("change", function () {
    var file = photoInput.files && photoInput.files[0];
    photoInput.value = "";
    if (!file) return;
    if (PHOTO_TYPES.indexOf(file.type) < 0 || file.size > PHOTO_MAX) {
      notice(PHOTO_REFUSED);
      return;
    }
    send({}, PHOTO_BUBBLE, file);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submitTyped();
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    // isComposing / 229: an input method (Telex, VNI) is still building a letter.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    event.preventDefault();
    submitTyped();
  });

  input.addEventListener("input", onInput);

  // Hidden tab: schedulePoll only clears the timer. Visible again: fetch at once.
  document.addEventListener("visibilitychange", function () { schedulePoll(0); });

  start(0);
})();
