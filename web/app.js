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
 * Nothing is sent before the login is acknowledged: the server keeps the identity per connection
 * (it is not read from the Socket.IO auth payload), and refuses chat from one that has none.
 * All user-supplied text goes into the page through textContent, never innerHTML.
 */
(function () {
  'use strict';

  var ACK_TIMEOUT_MS = 5000;
  var MAX_MESSAGES_PER_VIEW = 500;
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
    newBelow: $('new-below')
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
  el.loginName.value = me.name;

  /* ---- views: "Everyone" plus one per joined room ---- */

  var views = new Map(); // key -> {room, peer, messages: [], unread, members: [], lastId}
  var current = GLOBAL;

  function ensureView(room) {
    var key = room || GLOBAL;
    if (!views.has(key)) views.set(key, { room: room || null, peer: null, messages: [], unread: 0, members: [], lastId: 0 });
    return views.get(key);
  }
  ensureView(null);

  // A private conversation with peer {userid, name}: its key cannot be a room name (those are
  // what users type; this starts with a NUL).
  function privateKey(userid) { return '\u0000' + JSON.stringify(userid); }
  function ensurePrivate(peer) {
    var key = privateKey(peer.userid);
    if (!views.has(key)) views.set(key, { room: null, peer: peer, messages: [], unread: 0, members: [], lastId: 0 });
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

  // "14:05" today; "Nov 28, 14:05" another day, so that an old message does not read as today's
  function timeLabel(d) {
    var time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    if (d.toDateString() === new Date().toDateString()) return time;
    var opts = { month: 'short', day: 'numeric' };
    if (d.getFullYear() !== new Date().getFullYear()) opts.year = 'numeric';
    return d.toLocaleDateString([], opts) + ', ' + time;
  }

  function renderItem(item) {
    var li = document.createElement('li');
    li.className = item.kind + (item.own ? ' own' : '') + (item.history ? ' history' : '');
    if (item.kind === 'notice' || item.kind === 'divider') {
      li.textContent = item.text;
      return li;
    }
    var meta = document.createElement('div');
    meta.className = 'meta';
    var who = document.createElement('span');
    who.className = 'from';
    who.textContent = item.own ? item.name + ' (you)' : item.name;
    if (item.userid) who.title = 'user id ' + item.userid;
    var when = document.createElement('time');
    when.textContent = timeLabel(item.date);
    when.dateTime = item.date.toISOString();
    when.title = item.date.toLocaleString([], { dateStyle: 'full', timeStyle: 'medium' });
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
    item.li = li;
    return li;
  }

  // Shows a message's new state where it is on screen (it is drawn again when its view is).
  function redraw(item) {
    if (item.li && item.li.isConnected) item.li.replaceWith(renderItem(item));
  }

  function addItem(room, item) { addItemTo(room || GLOBAL, item); }

  function addItemTo(key, item) {
    var view = views.has(key) ? views.get(key) : ensureView(key);
    item.date = item.date || dateOf(item.ts);
    // a replay starts below an "Earlier messages" divider: what is above it came before
    var last = view.messages[view.messages.length - 1];
    if (item.history && !(last && (last.history || last.kind === 'divider'))) {
      addItemTo(key, { kind: 'divider', text: 'Earlier messages' });
    }
    view.messages.push(item);
    if (view.messages.length > MAX_MESSAGES_PER_VIEW) view.messages.shift();
    if (key === current) {
      var nearBottom = atBottom();
      el.messages.appendChild(renderItem(item));
      while (el.messages.childElementCount > MAX_MESSAGES_PER_VIEW) el.messages.firstElementChild.remove();
      if (nearBottom || item.own) el.messages.scrollTop = el.messages.scrollHeight;
      else if (item.kind === 'chat') el.newBelow.hidden = false; // reading above: say so, stay
    } else if (item.kind === 'chat') {
      view.unread++;
      renderRooms();
    }
  }
  function notice(room, text) { addItem(room, { kind: 'notice', text: text }); }

  function renderRooms() {
    el.roomList.replaceChildren();
    views.forEach(function (view, key) {
      var li = document.createElement('li');
      var btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'room' + (key === current ? ' active' : '');
      btn.textContent = viewTitle(key);
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
    el.messages.replaceChildren.apply(el.messages, view.messages.map(renderItem));
    el.messages.scrollTop = el.messages.scrollHeight;
    el.newBelow.hidden = true;
    renderRooms();
    renderMembers();
    if (view.room) refreshMembers(view.room);
    el.sendInput.focus();
  }

  function atBottom() {
    return el.messages.scrollHeight - el.messages.scrollTop - el.messages.clientHeight < 80;
  }
  el.messages.addEventListener('scroll', function () { if (atBottom()) el.newBelow.hidden = true; });
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

  function setStatus(state, text) {
    el.status.className = 'status status-' + state;
    el.status.textContent = text;
    el.status.dataset.state = state;
  }

  /* ---- socket ---- */

  var socket = null;
  var everConnected = false;
  var signedIn = false; // the login of this connection was acknowledged: chat may go

  function userOf(u) {
    if (u && typeof u === 'object') return u;
    return { name: String(u), id: null, userid: null };
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

  // The server or a hook refused the name: back to the sign-in form, saying why.
  function nameRefused(reason) {
    signedIn = false;
    socket.io.reconnection(false);
    socket.disconnect();
    el.chatView.hidden = true;
    el.me.hidden = true;
    el.loginView.hidden = false;
    el.loginError.textContent = 'That name was refused: ' + reason + '.';
    el.loginError.hidden = false;
    setStatus('off', 'not signed in');
    el.loginName.focus();
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
      if (!err && view && res && res.id > view.lastId) view.lastId = res.id;
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
    socket = io(pollingOnly ? { autoConnect: false, transports: ['polling'] } : { autoConnect: false });

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
        setStatus('off', 'disconnected');
        notice(null, 'Disconnected by the ' + (reason === 'io server disconnect' ? 'server' : 'client') +
          '. Click the status to reconnect.');
      } else {
        setStatus('wait', 'reconnecting…');
        notice(null, 'Connection lost (' + reason + '), reconnecting…');
      }
    });
    socket.on('connect_error', function () {
      setStatus(socket.active ? 'wait' : 'off', socket.active ? 'reconnecting…' : 'connection refused');
    });
    socket.io.on('reconnect_attempt', function (n) { setStatus('wait', 'reconnecting (try ' + n + ')…'); });

    socket.on('login', function (name) { notice(null, userOf(name).name + ' joined'); });
    socket.on('chat', function (d, offset) {
      if (!d || typeof d !== 'object') return;
      // a replayed message carries its id, a live one its stored id as the recovery offset
      var id = d.history ? Number(d.id) : Number(offset);
      var from = userOf(d.from || '?');
      var room = typeof d.room === 'string' && d.room !== '' ? d.room : null;
      if (room && !views.has(room)) return; // not a room we are showing
      var view = ensureView(room);
      if (id > 0) {
        if (d.history && id <= view.lastId) return; // shown already
        if (id > view.lastId) view.lastId = id;
      }
      addItem(room, {
        kind: 'chat', name: from.name || '(no name)', userid: from.userid,
        text: typeof d.msg === 'string' ? d.msg : JSON.stringify(d.msg),
        own: !!from.userid && from.userid === me.userid, // same user, e.g. another tab or history
        history: !!d.history, ts: d.ts || d.timestamp
      });
    });
    socket.on('private', function (d) {
      if (!d || typeof d !== 'object') return;
      var from = userOf(d.from || '?');
      if (from.userid === undefined || from.userid === null) return; // no way to answer
      var key = ensurePrivate({ userid: from.userid, name: from.name });
      addItemTo(key, {
        kind: 'chat', name: from.name || '(no name)', userid: from.userid,
        text: typeof d.msg === 'string' ? d.msg : JSON.stringify(d.msg), own: false
      });
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

  el.loginForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var name = el.loginName.value.trim();
    if (!name) return;
    me.name = name;
    storageSet('parley.name', name);
    el.me.textContent = name;
    el.me.hidden = false;
    el.loginView.hidden = true;
    el.loginError.hidden = true;
    el.chatView.hidden = false;
    switchView(GLOBAL);
    connect();
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

  el.status.addEventListener('click', function () {
    if (socket && !socket.connected && !socket.active) { setStatus('wait', 'connecting…'); socket.connect(); }
  });

  if (typeof io !== 'function') {
    setStatus('off', 'socket.io client failed to load');
    el.loginForm.querySelector('button').disabled = true;
  } else {
    setStatus('idle', 'not connected');
  }
})();
