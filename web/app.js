/*
 * Parley browser client for the built-in chat app.
 *
 * Uses the socket.io-client bundle that the server itself serves at /socket.io/socket.io.js.
 * Events (see the README / contract):
 *   emit login {name, userid}        receive login (name)          -> "X joined"
 *   emit chat {msg}                  receive chat {from, msg}      (the sender gets no echo)
 *   emit join {room} + ack -> {ok, room, members}, leave {room} + ack, members {room} + ack
 *   emit chat {room, msg}            receive chat {from, room, msg}
 *   receive joined / left {room, user}
 *   emit private {to, msg} + ack     receive private {from, msg}    (a conversation per user)
 *   emit history {room?, before, limit} + ack -> {messages, more}   (older pages, on scrolling up)
 * Nothing is sent before the login is acknowledged: the server keeps the identity per connection
 * and refuses chat from one that has none. With a signed token (the auth-token plugin; given as
 * #token=... in the address) the identity is the token's: it goes in the Socket.IO auth payload,
 * and the login repeats it.
 * All user-supplied text goes into the page through textContent, never innerHTML.
 */
(function () {
  'use strict';

  var ACK_TIMEOUT_MS = 5000;
  var MAX_MESSAGES_PER_VIEW = 500; // live messages beyond it push the oldest out
  var PAGE_SIZE = 50;               // messages asked for per older page
  var NEAR_TOP_PX = 40;             // scrolled this close to the top: load the older page
  var GLOBAL = ''; // key of the "Everyone" view (the tutorial's global chat)

  var $ = function (id) { return document.getElementById(id); };
  var el = {
    status: $('status'), me: $('me'),
    loginView: $('login-view'), loginForm: $('login-form'), loginName: $('login-name'),
    loginError: $('login-error'),
    chatView: $('chat-view'), roomList: $('room-list'), joinForm: $('join-form'), joinRoom: $('join-room'),
    membersBox: $('members-box'), memberList: $('member-list'),
    viewTitle: $('view-title'), leaveBtn: $('leave-btn'),
    messages: $('messages'), sendForm: $('send-form'), sendInput: $('send-input'),
    newBelow: $('new-below'), reconnect: $('reconnect-btn'),
    sidebar: $('sidebar'), menuBtn: $('menu-btn'), menuBadge: $('menu-badge'), drawerClose: $('drawer-close'), backdrop: $('backdrop')
  };

  /* ---- identity: a random userid kept in localStorage ---- */

  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: keep in memory */ }
  }
  function randomId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }
  var me = { name: storageGet('parley.name') || '', userid: storageGet('parley.userid') };
  if (!me.userid) {
    me.userid = randomId();
    storageSet('parley.userid', me.userid);
  }

  /* ---- or a signed token: #token=... in the address, kept for this tab only ---- */

  function pageToken() {
    var m = /^#(?:.*&)?token=([^&]+)/.exec(window.location.hash);
    if (!m) {
      try { return window.sessionStorage.getItem('parley.token'); } catch (e) { return null; }
    }
    var t = decodeURIComponent(m[1]);
    try { window.sessionStorage.setItem('parley.token', t); } catch (e) { /* private mode */ }
    // out of the address bar, so that a link copied from it does not carry the token
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    return t;
  }
  // The token's claims, read only to show who the token says the user is (the server checks it).
  function claimsOf(t) {
    try {
      var b64 = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      var bytes = Uint8Array.from(window.atob(b64), function (c) { return c.charCodeAt(0); });
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) { return null; }
  }
  var token = pageToken();
  var claims = token ? claimsOf(token) : null;
  if (claims && (typeof claims.sub === 'string' || typeof claims.sub === 'number')) {
    me.userid = claims.sub;
    if (typeof claims.name === 'string' && claims.name) me.name = claims.name;
  }
  var nameFromToken = !!(claims && typeof claims.name === 'string' && claims.name);
  el.loginName.value = me.name;
  el.loginName.readOnly = nameFromToken;

  /* ---- views: "Everyone" plus one per joined room ---- */

  // key -> {room, peer, messages: [], unread, members: [], lastId, ids: Set of shown message ids,
  // loadingOlder, exhausted (no older page left)}
  var views = new Map();
  var current = GLOBAL;

  function newView(room, peer) {
    return { room: room, peer: peer, messages: [], unread: 0, members: [], lastId: 0, ids: new Set(),
      loadingOlder: false, exhausted: false };
  }
  function ensureView(room) {
    var key = room || GLOBAL;
    if (!views.has(key)) views.set(key, newView(room || null, null));
    return views.get(key);
  }
  ensureView(null);

  // A private conversation with peer {userid, name}: its key cannot be a room name (those are
  // what users type; this starts with a NUL).
  function privateKey(userid) { return '\u0000' + JSON.stringify(userid); }
  function ensurePrivate(peer) {
    var key = privateKey(peer.userid);
    if (!views.has(key)) views.set(key, newView(null, peer));
    else if (peer.name) views.get(key).peer.name = peer.name;
    return key;
  }
  function viewTitle(key) {
    var view = views.get(key);
    if (view.peer) return '@ ' + (view.peer.name || view.peer.userid);
    return key === GLOBAL ? 'Everyone' : '# ' + key;
  }

  function dateOf(ts) {
    var d = (typeof ts === 'number' || typeof ts === 'string') ? new Date(ts) : new Date();
    return isNaN(d.getTime()) ? new Date() : d;
  }

  function timeLabel(d) { return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); }
  function fullTime(d) { return d.toLocaleString([], { dateStyle: 'full', timeStyle: 'medium' }); }

  // The heading of a day's messages: "Today", "Yesterday" or the date.
  function dayLabel(d) {
    var today = new Date();
    today.setHours(0, 0, 0, 0);
    var day = new Date(d.getTime());
    day.setHours(0, 0, 0, 0);
    var daysAgo = Math.round((today - day) / 86400e3); // round: a DST day has 23 or 25 hours
    if (daysAgo === 0) return 'Today';
    if (daysAgo === 1) return 'Yesterday';
    var opts = { weekday: 'long', month: 'long', day: 'numeric' };
    if (d.getFullYear() !== today.getFullYear()) opts.year = 'numeric';
    return d.toLocaleDateString([], opts);
  }

  function sameSender(a, b) {
    if (a.userid !== undefined && a.userid !== null && b.userid !== undefined && b.userid !== null) {
      return a.userid === b.userid && a.name === b.name;
    }
    return a.name === b.name && !a.userid && !b.userid;
  }
  function minuteOf(item) { return Math.floor(item.date.getTime() / 60000); }

  // Decides how item is drawn after prev (the item above) and prevChat (the last chat above):
  // under a new day heading (returned, else null), or as part of prev's group (same sender, same
  // minute: no name and time of its own).
  function placeItem(item, prev, prevChat) {
    item.grouped = false;
    if (item.kind !== 'chat') return null;
    if (!prevChat || prevChat.date.toDateString() !== item.date.toDateString()) {
      var day = document.createElement('li');
      day.className = 'day';
      day.textContent = dayLabel(item.date);
      return day;
    }
    item.grouped = prev === prevChat && sameSender(prev, item) && minuteOf(prev) === minuteOf(item);
    return null;
  }

  function renderItem(item) {
    var li = document.createElement('li');
    li.className = item.kind + (item.own ? ' own' : '') + (item.history ? ' history' : '') +
      (item.grouped ? ' grouped' : '');
    item.li = li;
    if (item.kind !== 'chat') {
      li.textContent = item.text;
      return li;
    }
    // a grouped message keeps its name and time for screen readers, and the time on hover
    if (item.grouped) li.title = fullTime(item.date);
    var meta = document.createElement('div');
    meta.className = item.grouped ? 'meta visually-hidden' : 'meta';
    var who = document.createElement('span');
    who.className = 'from';
    who.textContent = item.own ? item.name + ' (you)' : item.name;
    if (item.userid) who.title = 'user id ' + item.userid;
    var when = document.createElement('time');
    when.textContent = timeLabel(item.date);
    when.dateTime = item.date.toISOString();
    when.title = fullTime(item.date);
    meta.append(who, when);
    var body = document.createElement('div');
    body.className = 'text';
    body.textContent = item.text;
    li.append(meta, body);
    if (item.state === 'pending') {
      li.classList.add('pending');
      var sending = document.createElement('span');
      sending.className = 'state';
      sending.textContent = 'sending…';
      meta.appendChild(sending);
    } else if (item.state === 'failed') {
      li.classList.add('failed');
      var why = document.createElement('div');
      why.className = 'why';
      why.textContent = 'Not sent: ' + item.error;
      var retry = document.createElement('button');
      retry.type = 'button';
      retry.className = 'retry secondary';
      retry.textContent = 'Retry';
      retry.addEventListener('click', function () { item.retry(); });
      why.appendChild(retry);
      li.appendChild(why);
    }
    return li;
  }

  // Shows a message's new state where it is on screen (it is drawn again when its view is); a
  // list that was at the bottom stays there.
  function redraw(item) {
    if (!item.li || !item.li.isConnected) return;
    var stick = atBottom();
    item.li.replaceWith(renderItem(item));
    if (stick) el.messages.scrollTop = el.messages.scrollHeight;
  }

  function addItem(room, item) { addItemTo(room || GLOBAL, item); }

  function lastChatOf(messages, end) {
    for (var i = end - 1; i >= 0; i--) if (messages[i].kind === 'chat') return messages[i];
    return null;
  }

  function addItemTo(key, item) {
    var view = views.has(key) ? views.get(key) : ensureView(key);
    item.date = item.date || dateOf(item.ts);
    if (item.id) view.ids.add(item.id);
    // a replay starts below an "Earlier messages" divider: what is above it came before
    var last = view.messages[view.messages.length - 1];
    if (item.history && !(last && (last.history || last.kind === 'divider'))) {
      addItemTo(key, { kind: 'divider', text: 'Earlier messages' });
      last = view.messages[view.messages.length - 1];
    }
    view.messages.push(item);
    var trimmed = view.messages.length > MAX_MESSAGES_PER_VIEW;
    if (trimmed) {
      view.messages.shift();
      view.exhausted = false; // the oldest went: paging back can bring it again
      view.messages = view.messages.filter(function (m) { return m.kind !== 'start'; });
    }
    if (key === current) {
      var nearBottom = atBottom();
      if (trimmed) {
        keepingPosition(renderView);
      } else {
        var day = placeItem(item, last, lastChatOf(view.messages, view.messages.length - 1));
        if (day) el.messages.appendChild(day);
        el.messages.appendChild(renderItem(item));
      }
      if (nearBottom || item.own) el.messages.scrollTop = el.messages.scrollHeight;
      else if (item.kind === 'chat') el.newBelow.hidden = false; // reading above: say so, stay
    } else if (item.kind === 'chat') {
      view.unread++;
      renderRooms();
    }
  }

  // Draws the current view's messages, with day headings and groups.
  function renderView() {
    var view = views.get(current), nodes = [], prev = null, prevChat = null;
    view.messages.forEach(function (item) {
      var day = placeItem(item, prev, prevChat);
      if (day) nodes.push(day);
      nodes.push(renderItem(item));
      prev = item;
      if (item.kind === 'chat') prevChat = item;
    });
    el.messages.replaceChildren.apply(el.messages, nodes);
  }

  // Runs redraw (which changes the list) keeping the topmost message in sight where it was (a
  // stored one, if any is in sight: older pages go above those, notices may stay above them).
  function keepingPosition(redraw) {
    var top = el.messages.getBoundingClientRect().top;
    var inSight = views.get(current).messages.filter(function (m) {
      return m.li && m.li.isConnected && m.li.getBoundingClientRect().bottom > top;
    });
    var anchor = inSight.find(function (m) { return m.id > 0; }) || inSight[0];
    var before = anchor ? anchor.li.getBoundingClientRect().top : 0;
    redraw();
    if (anchor && anchor.li.isConnected) el.messages.scrollTop += anchor.li.getBoundingClientRect().top - before;
  }
  function notice(room, text) { addItem(room, { kind: 'notice', text: text }); }

  function renderRooms() {
    el.roomList.replaceChildren();
    var unread = 0;
    views.forEach(function (view, key) {
      unread += view.unread;
      var li = document.createElement('li');
      var btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'room' + (key === current ? ' active' : '');
      var name = document.createElement('span');
      name.className = 'room-name';
      name.textContent = viewTitle(key);
      btn.title = viewTitle(key); // the whole name, when a long one is cut short
      btn.appendChild(name);
      btn.addEventListener('click', function () { switchView(key); });
      if (view.unread > 0) {
        var badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = String(view.unread);
        btn.appendChild(badge);
      }
      li.appendChild(btn);
      el.roomList.appendChild(li);
    });
    // on a phone the list is in the drawer: its button says that something is unread there
    el.menuBadge.textContent = unread ? String(unread) : '';
    el.menuBadge.hidden = !unread;
  }

  function renderMembers() {
    var view = views.get(current);
    el.membersBox.hidden = !view || !view.room;
    if (el.membersBox.hidden) return;
    el.memberList.replaceChildren();
    view.members.forEach(function (m) {
      var li = document.createElement('li');
      var name = (m.name || '(no name)') + (socket && m.id === socket.id ? ' (you)' : '');
      if (m.userid !== undefined && m.userid !== null && m.userid !== me.userid && !m.bot) {
        // another user: a button that opens a private conversation
        var btn = document.createElement('button');
        btn.type = 'button';
        btn.className = 'member';
        btn.textContent = name;
        btn.setAttribute('aria-label', 'Message ' + name + ' privately');
        btn.addEventListener('click', function () { switchView(ensurePrivate({ userid: m.userid, name: m.name })); });
        li.appendChild(btn);
      } else {
        li.textContent = name;
      }
      if (m.bot) {
        // a bot: marked as one, and not offered a private conversation
        li.className = 'bot';
        var tag = document.createElement('span');
        tag.className = 'tag';
        tag.textContent = 'bot';
        li.append(' ', tag);
      }
      if (m.userid) li.title = 'user id ' + m.userid;
      el.memberList.appendChild(li);
    });
  }

  function switchView(key) {
    if (!views.has(key)) key = GLOBAL;
    current = key;
    var view = views.get(key);
    view.unread = 0;
    el.viewTitle.textContent = viewTitle(key);
    el.leaveBtn.hidden = !view.room;
    renderView();
    el.messages.scrollTop = el.messages.scrollHeight;
    lastScrollTop = el.messages.scrollTop; // another list: not a scroll up
    el.newBelow.hidden = true;
    renderRooms();
    renderMembers();
    if (view.room) refreshMembers(view.room);
    setDrawer(false);
    el.sendInput.focus();
  }

  function atBottom() {
    return el.messages.scrollHeight - el.messages.scrollTop - el.messages.clientHeight < 80;
  }
  function atTop() {
    return el.messages.scrollTop <= NEAR_TOP_PX && el.messages.scrollHeight > el.messages.clientHeight;
  }
  // Older pages come when the list is scrolled up to its top: only up, since a list a little
  // taller than its box is near its top at the bottom too.
  var lastScrollTop = 0;
  el.messages.addEventListener('scroll', function () {
    var up = el.messages.scrollTop < lastScrollTop;
    lastScrollTop = el.messages.scrollTop;
    if (atBottom()) el.newBelow.hidden = true;
    if (up && atTop()) loadOlder();
  });
  el.newBelow.addEventListener('click', function () {
    el.messages.scrollTop = el.messages.scrollHeight;
    el.newBelow.hidden = true;
  });

  /* ---- connection state ---- */

  // "connected over websocket" (or polling), and whether the last reconnect recovered the session
  function showConnected() {
    if (!socket || !socket.connected) return;
    var transport = socket.io.engine && socket.io.engine.transport ? socket.io.engine.transport.name : '?';
    setStatus('on', 'connected over ' + transport + (socket.recovered ? ', recovered' : ''));
  }

  function setStatus(state, text, canReconnect) {
    el.status.className = 'status status-' + state;
    el.status.textContent = text;
    el.status.dataset.state = state;
    el.reconnect.hidden = !canReconnect;
  }

  /* ---- socket ---- */

  var socket = null;
  var everConnected = false;
  var signedIn = false; // the login of this connection was acknowledged: chat may go

  function userOf(u) {
    if (u && typeof u === 'object') return u;
    return { name: String(u), id: null, userid: null };
  }

  function textOf(msg) { return typeof msg === 'string' ? msg : JSON.stringify(msg); }

  // A chat line for a received or stored message d {from, msg, id?, ts?, truncated?}.
  function chatItem(d, history) {
    var from = userOf(d.from || '?');
    return {
      kind: 'chat', id: Number(d.id) > 0 ? Number(d.id) : 0, name: from.name || '(no name)', userid: from.userid,
      text: d.truncated ? '(too long to show)' : textOf(d.msg),
      own: !!from.userid && from.userid === me.userid, // same user, e.g. another tab or history
      history: history, ts: d.ts || d.timestamp
    };
  }

  /* ---- older pages, loaded when the list is scrolled to its top ---- */

  function oldestId(view) {
    var oldest = 0;
    view.ids.forEach(function (id) { if (!oldest || id < oldest) oldest = id; });
    return oldest;
  }

  // Where an older page goes: above the oldest message shown (below "Earlier messages", which
  // is added when there is none yet).
  function olderIndex(view) {
    var at = view.messages.findIndex(function (m) { return m.id > 0; });
    if (at < 0) at = view.messages.length;
    if (!view.messages.some(function (m) { return m.kind === 'divider'; })) {
      view.messages.splice(at, 0, { kind: 'divider', text: 'Earlier messages', date: new Date() });
      at++;
    }
    return at;
  }

  function loadOlder() {
    var key = current, view = views.get(key);
    if (!view || view.peer || view.loadingOlder || view.exhausted || !signedIn) return;
    var req = { limit: PAGE_SIZE };
    if (view.room) req.room = view.room;
    var oldest = oldestId(view);
    if (oldest) req.before = oldest;
    view.loadingOlder = true;
    el.messages.setAttribute('aria-busy', 'true');
    socket.timeout(ACK_TIMEOUT_MS).emit('history', req, function (err, res) {
      view.loadingOlder = false;
      el.messages.removeAttribute('aria-busy');
      if (err || !res || res.ok === false || !Array.isArray(res.messages) || views.get(key) !== view) return;
      var older = res.messages.filter(function (d) {
        return d && typeof d === 'object' && !view.ids.has(Number(d.id));
      }).map(function (d) {
        var item = chatItem(d, true);
        item.date = dateOf(item.ts);
        if (item.id) view.ids.add(item.id);
        return item;
      });
      if (!res.more) {
        view.exhausted = true;
        older.unshift({ kind: 'start', text: 'No earlier messages', date: new Date() });
      }
      if (older.length) {
        var at = olderIndex(view);
        view.messages.splice.apply(view.messages, [at, 0].concat(older));
      }
      if (key !== current) return;
      keepingPosition(renderView);
      if (atTop()) loadOlder(); // still at the top: one more
    });
  }

  function refreshMembers(room) {
    socket.timeout(ACK_TIMEOUT_MS).emit('members', { room: room }, function (err, res) {
      if (err || !res || res.ok === false || !Array.isArray(res.members)) return;
      var view = views.get(room);
      if (!view) return;
      view.members = res.members;
      if (current === room) renderMembers();
    });
  }

  // Joins room; a view that has messages asks only for those after its newest (since), so a
  // rejoin after a reconnect shows nothing twice. done() is called once the server answered.
  // The rooms joined, remembered for the next visit (rejoined on the first connection).
  function rememberRooms() {
    var rooms = [];
    views.forEach(function (view) { if (view.room) rooms.push(view.room); });
    storageSet('parley.rooms', JSON.stringify(rooms));
  }
  function rememberedRooms() {
    try {
      var rooms = JSON.parse(storageGet('parley.rooms') || '[]');
      return Array.isArray(rooms) ? rooms.filter(function (r) { return typeof r === 'string' && r; }) : [];
    } catch (e) { return []; }
  }

  function joinRoom(room, quiet, done) {
    var known = views.get(room);
    var req = known && known.lastId ? { room: room, since: known.lastId } : { room: room };
    socket.timeout(ACK_TIMEOUT_MS).emit('join', req, function (err, res) {
      if (done) done();
      if (err) { notice(current === room ? room : null, 'Joining #' + room + ' failed: no answer from the server.'); return; }
      if (!res || res.ok === false) {
        notice(null, 'Joining #' + room + ' was refused' + (res && res.error ? ': ' + res.error : '.'));
        return;
      }
      var view = ensureView(room);
      rememberRooms();
      if (Array.isArray(res.members)) view.members = res.members;
      if (!quiet) {
        notice(room, 'You joined #' + room + '.');
        switchView(room);
      } else {
        renderRooms();
        if (current === room) renderMembers();
      }
    });
  }

  function leaveRoom(room) {
    socket.timeout(ACK_TIMEOUT_MS).emit('leave', { room: room }, function () {});
    views.delete(room);
    rememberRooms();
    switchView(GLOBAL);
    notice(null, 'You left #' + room + '.');
  }

  var pending = []; // chats typed while disconnected, sent after the next login

  // The server or a hook refused the sign-in: back to the sign-in form, saying why.
  function signInRefused(text) {
    signedIn = false;
    socket.io.reconnection(false);
    socket.disconnect();
    el.chatView.hidden = true;
    el.me.hidden = true;
    el.loginView.hidden = false;
    el.loginError.textContent = text;
    el.loginError.hidden = false;
    setStatus('off', 'not signed in', false);
    el.loginName.focus();
  }
  function nameRefused(reason) { signInRefused('That name was refused: ' + reason + '.'); }
  // The server refused the connection (a bad or expired token, or none where one is required):
  // the token is dropped, so that the form can sign in again (as a guest, where that is allowed).
  function connectRefused(reason) {
    if (token) {
      token = null;
      try { window.sessionStorage.removeItem('parley.token'); } catch (e) { /* private mode */ }
      me.userid = storageGet('parley.userid');
      el.loginName.readOnly = false;
      nameFromToken = false;
    }
    signInRefused('Sign-in refused: ' + reason + '.');
  }

  // Sends a private message; the conversation says when nobody received it, and why.
  function sendPrivate(key, peer, msg) {
    addItemTo(key, { kind: 'chat', name: me.name, userid: me.userid, text: msg, own: true });
    if (!signedIn) { noticeIn(key, 'Not sent: not connected.'); return; }
    socket.timeout(ACK_TIMEOUT_MS).emit('private', { to: peer.userid, msg: msg }, function (err, res) {
      if (err) noticeIn(key, 'No answer from the server: it may not have been delivered.');
      else if (!res || res.ok === false) noticeIn(key, 'Not delivered: ' + ((res && res.error) || 'refused') + '.');
    });
  }
  function noticeIn(key, text) { addItemTo(key, { kind: 'notice', text: text }); }

  // Sends a chat (m.item is its line on screen: pending until the ack, then sent or failed with
  // the server's reason and a retry); its ack's id counts as seen, so that a replay after a
  // reconnect skips it.
  function sendChat(m) {
    var item = m.item;
    var payload = m.room ? { room: m.room, msg: m.msg } : { msg: m.msg };
    socket.timeout(ACK_TIMEOUT_MS).emit('chat', payload, function (err, res) {
      var view = views.get(m.room || GLOBAL);
      if (!err && view && res && res.id > 0) {
        if (res.id > view.lastId) view.lastId = res.id;
        view.ids.add(res.id);
        if (item) item.id = res.id;
      }
      if (!item) return;
      if (!err && res && res.ok !== false && typeof res.command === 'string') {
        // a moderator's command, done: not a chat line
        item.kind = 'notice';
        item.text = 'Done: ' + m.msg;
        item.state = 'sent';
      } else if (err || !res || res.ok === false) {
        item.state = 'failed';
        item.error = err ? 'no answer from the server' : (res && res.error) || 'refused';
        item.retry = function () {
          item.state = 'pending';
          redraw(item);
          if (signedIn) sendChat(m); else pending.push(m);
        };
      } else {
        item.state = 'sent';
      }
      redraw(item);
    });
  }

  // Logs in on connection (the engine of this connection) and calls done once the server
  // acknowledged it; asks again when no answer came. The server refuses chat from a connection
  // without a name: nothing else is sent before.
  function signIn(login, connection, done) {
    socket.timeout(ACK_TIMEOUT_MS).emit('login', login, function (err, res) {
      if (socket.io.engine !== connection || !socket.connected) return; // the next connection logs in itself
      if (err) { signIn(login, connection, done); return; }
      if (res && res.ok === false) { nameRefused(res.error || 'refused'); return; }
      signedIn = true;
      done();
    });
  }

  function connect() {
    // ?transport=polling: long-polling only, for networks that let no WebSocket through
    var pollingOnly = /[?&]transport=polling(&|$)/.test(window.location.search);
    var opts = { autoConnect: false, auth: function (cb) { cb(token ? { token: token } : {}); } };
    if (pollingOnly) opts.transports = ['polling'];
    socket = io(opts);

    socket.on('connect', function () {
      signedIn = false;
      showConnected();
      if (everConnected) notice(null, socket.recovered ? 'Reconnected: nothing was missed.' : 'Reconnected.');
      // A recovered session keeps its rooms; otherwise join them again.
      var rejoins = [];
      if (everConnected && !socket.recovered) {
        views.forEach(function (view) { if (view.room) rejoins.push(view.room); });
      } else if (!everConnected) {
        rejoins = rememberedRooms(); // the rooms of the last visit
      }
      everConnected = true;
      socket.io.engine.once('upgrade', showConnected);
      if (socket.recovered) {
        // the session came back with its identity and rooms: a login would only announce the
        // user to everyone again
        signedIn = true;
        pending.splice(0).forEach(sendChat);
        return;
      }
      // A page that shows messages asks only for those after its newest one (since).
      var global = views.get(GLOBAL);
      var login = global.lastId ? { name: me.name, userid: me.userid, since: global.lastId }
        : { name: me.name, userid: me.userid };
      signIn(login, socket.io.engine, function () {
        // Messages typed meanwhile go once the rooms are joined again: the server refuses room
        // chat from a connection not in the room.
        var left = rejoins.length;
        var flush = function () { pending.splice(0).forEach(sendChat); };
        if (!left) flush();
        rejoins.forEach(function (room) { joinRoom(room, true, function () { if (--left === 0) flush(); }); });
      });
    });
    socket.on('disconnect', function (reason) {
      signedIn = false;
      if (reason === 'io server disconnect' || reason === 'io client disconnect') {
        setStatus('off', 'disconnected', true);
        notice(null, 'Disconnected by the ' + (reason === 'io server disconnect' ? 'server' : 'client') +
          '. Use "Reconnect" to connect again.');
      } else {
        setStatus('wait', 'reconnecting…');
        notice(null, 'Connection lost (' + reason + '), reconnecting…');
      }
    });
    socket.on('connect_error', function (err) {
      // not active: the server answered CONNECT_ERROR (the auth-token plugin says why)
      if (!socket.active) connectRefused((err && err.message) || 'connection refused');
      else setStatus('wait', 'reconnecting…');
    });
    socket.io.on('reconnect_attempt', function (n) { setStatus('wait', 'reconnecting (try ' + n + ')…'); });

    socket.on('login', function (name) { notice(null, userOf(name).name + ' joined'); });
    socket.on('chat', function (d, offset) {
      if (!d || typeof d !== 'object') return;
      var room = typeof d.room === 'string' && d.room !== '' ? d.room : null;
      if (room && !views.has(room)) return; // not a room we are showing
      var view = ensureView(room);
      var item = chatItem(d, !!d.history);
      // a replayed message carries its id, a live one its stored id as the recovery offset
      item.id = d.history ? item.id : (Number(offset) > 0 ? Number(offset) : 0);
      if (item.id > 0) {
        if (view.ids.has(item.id) || (d.history && item.id <= view.lastId)) return; // shown already
        if (item.id > view.lastId) view.lastId = item.id;
      }
      addItem(room, item);
    });
    socket.on('private', function (d) {
      if (!d || typeof d !== 'object') return;
      var from = userOf(d.from || '?');
      if (from.userid === undefined || from.userid === null) return; // no way to answer
      var key = ensurePrivate({ userid: from.userid, name: from.name });
      var item = chatItem(d, false);
      item.id = 0; // private ids are not pages of this conversation
      item.own = false;
      addItemTo(key, item);
      renderRooms();
    });
    socket.on('joined', function (d) {
      if (!d || !views.has(d.room)) return;
      var user = userOf(d.user), view = views.get(d.room);
      if (user.id !== socket.id) notice(d.room, (user.name || 'someone') + ' joined #' + d.room);
      if (!view.members.some(function (m) { return m.id && m.id === user.id; })) view.members.push(user);
      if (current === d.room) renderMembers();
    });
    socket.on('left', function (d) {
      if (!d || !views.has(d.room)) return;
      var user = userOf(d.user), view = views.get(d.room);
      notice(d.room, (user.name || 'someone') + ' left #' + d.room);
      view.members = view.members.filter(function (m) { return !(m.id && m.id === user.id); });
      if (current === d.room) renderMembers();
    });

    setStatus('wait', 'connecting…');
    socket.connect();
  }

  /* ---- forms ---- */

  function signInAs(name) {
    me.name = name;
    if (!nameFromToken) storageSet('parley.name', name);
    el.me.textContent = name;
    el.me.hidden = false;
    el.loginView.hidden = true;
    el.loginError.hidden = true;
    el.chatView.hidden = false;
    switchView(GLOBAL);
    connect();
  }
  el.loginForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var name = el.loginName.value.trim();
    if (name) signInAs(name);
  });

  el.sendForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var msg = el.sendInput.value;
    if (!msg.trim()) return;
    var view = views.get(current), room = view.room;
    if (view.peer) {
      sendPrivate(current, view.peer, msg);
      el.sendInput.value = '';
      return;
    }
    // The server does not echo chat back to the sender: show it here. Until the login is
    // acknowledged the message waits in pending (socket.io-client's own buffer would send it
    // before the login, which the server refuses).
    var item = { kind: 'chat', name: me.name, userid: me.userid, text: msg, own: true, state: 'pending' };
    var m = { room: room, msg: msg, item: item };
    addItem(room, item);
    if (signedIn) sendChat(m);
    else pending.push(m);
    el.sendInput.value = '';
  });

  // Enter sends; Shift+Enter starts a new line.
  el.sendInput.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      el.sendForm.requestSubmit();
    }
  });

  el.joinForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var room = el.joinRoom.value.trim();
    if (!room || !socket) return;
    el.joinRoom.value = '';
    if (views.has(room)) switchView(room); else joinRoom(room, false);
  });

  el.leaveBtn.addEventListener('click', function () {
    var room = views.get(current).room;
    if (room) leaveRoom(room);
  });

  function reconnect() {
    if (socket && !socket.connected && !socket.active) { setStatus('wait', 'connecting…'); socket.connect(); }
  }
  el.status.addEventListener('click', function () { if (!el.reconnect.hidden) reconnect(); });
  el.reconnect.addEventListener('click', reconnect);

  /* ---- the sidebar as a drawer (on a phone; the menu button shows only there) ---- */

  function drawerOpen() { return document.body.classList.contains('drawer-open'); }
  function setDrawer(open) {
    var wasOpen = drawerOpen();
    document.body.classList.toggle('drawer-open', open);
    el.menuBtn.setAttribute('aria-expanded', String(open));
    if (open && !wasOpen) el.joinRoom.focus();
    else if (!open && wasOpen && el.sidebar.contains(document.activeElement)) el.menuBtn.focus();
  }
  el.menuBtn.addEventListener('click', function () { setDrawer(!drawerOpen()); });
  el.drawerClose.addEventListener('click', function () { setDrawer(false); });
  el.backdrop.addEventListener('click', function () { setDrawer(false); });
  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape' && drawerOpen()) setDrawer(false);
  });

  if (typeof io !== 'function') {
    setStatus('off', 'socket.io client failed to load');
    el.loginForm.querySelector('button').disabled = true;
  } else {
    setStatus('idle', 'not connected');
    if (token && nameFromToken) signInAs(me.name); // the token names the user: nothing to ask
  }
})();
