/* motcua web chat: shows the conversation, sends typed text and pressed buttons, and polls
   for messages the bot sends on its own. No framework, no build step, no third-party host:
   it talks only to /chat/api/messages on the server that served it. Written for old phone
   browsers too (ES2017, no optional chaining). */
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

  var seen = {}; // message ids already handled, so polling never shows a message twice
  var lastId = 0; // poll cursor: everything up to here has been fetched by GET
  var echoUpTo = 0; // user messages up to this id are the echo of what we sent ourselves
  var busy = false; // a POST is in flight
  var epoch = 0; // bumped by every POST; a poll started before it is discarded
  var started = false;
  var polling = false;
  var pollTimer = null;
  var pollDelay = POLL_MS;
  var loadNoticeShown = false;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  /** Only http(s) links may become clickable; anything else stays plain text. */
  function safeUrl(raw) {
    try {
      var url = new URL(String(raw), window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function newTabLink(href, className) {
    var a = el("a", className);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener";
    return a;
  }

  /** Text as text nodes (never HTML), with bare http(s) URLs turned into links. */
  function appendLinkified(parent, text) {
    var re = new RegExp(URL_RE.source, "g");
    var from = 0;
    var match;
    while ((match = re.exec(text)) !== null) {
      var url = match[0].replace(URL_TAIL_RE, "");
      var href = safeUrl(url);
      if (!href || url.length < 10) continue;
      parent.appendChild(document.createTextNode(text.slice(from, match.index)));
      var a = newTabLink(href, "");
      a.textContent = url;
      parent.appendChild(a);
      from = match.index + url.length;
      re.lastIndex = from;
    }
    parent.appendChild(document.createTextNode(text.slice(from)));
  }

  function renderButton(button) {
    var label = String(button.label || "");
    var href = button.url ? safeUrl(button.url) : null;
    if (href) {
      var a = newTabLink(href, "btn");
      a.textContent = label;
      a.appendChild(el("span", "ext", "↗")).setAttribute("aria-hidden", "true");
      a.appendChild(el("span", "sr-only", " (mở trong thẻ mới)"));
      return a;
    }
    if (!button.action) return null;
    var b = el("button", "btn", label);
    b.type = "button";
    b.addEventListener("click", function () {
      send({ action: String(button.action) }, label);
    });
    return b;
  }

  function renderMessage(msg) {
    var who = msg.from === "user" ? "user" : "bot";
    var item = el("div", "msg " + who);
    var bubble = el("div", "bubble");
    bubble.appendChild(el("span", "sr-only", who === "user" ? "Bạn: " : "Trợ lý: "));
    appendLinkified(bubble, String(msg.text || ""));
    item.appendChild(bubble);
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

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function append(node) {
    log.appendChild(node);
    scrollToEnd();
  }

  function notice(text) {
    var item = el("div", "msg notice");
    item.appendChild(el("div", "bubble", text));
    append(item);
  }

  /** Render the messages of an API answer, skipping ids already shown and our own echoes. */
  function show(data, fromPost) {
    var stick = fromPost || nearBottom();
    var maxId = Number(data.last_id) || 0;
    (data.messages || []).forEach(function (msg) {
      var id = Number(msg.id);
      if (id) {
        if (seen[id]) return;
        seen[id] = true;
        maxId = Math.max(maxId, id);
      }
      var echo = msg.from === "user" && (fromPost || id <= echoUpTo || msg.text === "/start");
      if (!echo) log.appendChild(renderMessage(msg));
    });
    // A POST does not move the poll cursor: the next GET also picks up anything the bot
    // sent on its own meanwhile; the ids above keep the replies from showing twice.
    if (fromPost) echoUpTo = Math.max(echoUpTo, maxId);
    else lastId = Math.max(lastId, maxId);
    if (stick) scrollToEnd();
  }

  function ApiError(message) {
    this.message = message;
  }

  async function api(method, url, body) {
    var ctrl = window.AbortController ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, TIMEOUT_MS) : null;
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: ctrl ? ctrl.signal : undefined,
    };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    try {
      var res = await fetch(url, options);
      var data = await res.json().catch(function () { return {}; });
      if (!res.ok) {
        throw new ApiError(data && typeof data.error === "string" ? data.error : SEND_FAILED);
      }
      return data || {};
    } finally {
      clearTimeout(timer);
    }
  }

  function setBusy(value) {
    var stick = nearBottom(); // the indicator takes room from the log
    busy = value;
    typing.hidden = !value;
    sendButton.setAttribute("aria-disabled", value ? "true" : "false");
    if (stick) scrollToEnd();
  }

  /** POST a typed text or a pressed button; `bubble` is what the citizen sees as theirs. */
  async function send(body, bubble) {
    if (busy) return false;
    setBusy(true);
    epoch += 1;
    var mine = bubble ? renderMessage({ from: "user", text: bubble }) : null;
    if (mine) append(mine);
    try {
      show(await api("POST", API, body), true);
      return true;
    } catch (err) {
      if (mine) log.removeChild(mine);
      // Only the server's own (Vietnamese) words are shown; browser errors are English.
      notice(err instanceof ApiError ? err.message : SEND_FAILED);
      return false;
    } finally {
      setBusy(false);
      schedulePoll(POLL_MS);
    }
  }

  async function submitTyped() {
    var text = input.value.trim();
    if (!text || busy) return;
    if (text.length > MAX_LEN) text = text.slice(0, MAX_LEN);
    input.value = "";
    onInput();
    var ok = await send({ text: text }, text);
    if (!ok && !input.value) {
      input.value = text; // nothing typed is lost
      onInput();
    }
  }

  function onInput() {
    input.style.height = "auto";
    input.style.height = input.scrollHeight + 4 + "px";
    var left = MAX_LEN - input.value.length;
    counter.hidden = left > WARN_LEFT;
    counter.textContent = "Còn " + left + " ký tự";
    counter.className = left < 100 ? "counter low" : "counter";
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

  async function start() {
    var data;
    try {
      data = await api("GET", API + "?after=0");
    } catch (e) {
      if (!loadNoticeShown) notice(LOAD_FAILED);
      loadNoticeShown = true;
      pollDelay = Math.min(pollDelay * 2, POLL_MAX_MS);
      setTimeout(start, pollDelay);
      return;
    }
    pollDelay = POLL_MS;
    show(data, false);
    scrollToEnd();
    started = true;
    if (!(data.messages || []).length) await send({ text: "/start" }, null);
    else schedulePoll(POLL_MS);
  }

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
  document.addEventListener("visibilitychange", function () {
    schedulePoll(0);
  });

  start();
})();
