// The web terminal's page (docs/TERMINAL.md). Vanilla JS, no framework, nothing loaded from elsewhere.
// Everything shown comes from the server over the websocket (reload-safe); the page sends keys,
// answers, card moves and actions. Text from the server is always set with textContent, never as HTML.
'use strict';

(() => {
  const HEALTH = 'sesam-vitale';
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get('t') || '';

  /** Element builder: el('div', { class: 'x', 'data-testid': 'y' }, 'text', child…). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  const euros = (cents) => {
    if (typeof cents !== 'number') return '—';
    const neg = cents < 0;
    const c = Math.abs(Math.round(cents));
    return `${neg ? '-' : ''}${Math.floor(c / 100)},${String(c % 100).padStart(2, '0')} €`;
  };
  const frDate = (iso) => (typeof iso === 'string' && /^\d{4}-\d{2}-\d{2}/.test(iso) ? `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}` : String(iso ?? ''));
  const frTime = (ms) => (typeof ms === 'number' ? new Date(ms).toLocaleTimeString('fr-FR') : '');
  // The applet counts days in UTC: the page does the same so "today" agrees.
  const todayIso = () => new Date().toISOString().slice(0, 10);
  const addDays = (iso, n) => new Date(Date.parse(`${iso}T00:00:00Z`) + n * 86400000).toISOString().slice(0, 10);

  // ---- toast -------------------------------------------------------------------------------------

  let toastTimer = null;
  function toast(text, kind = 'info') {
    const t = $('toast');
    t.textContent = text;
    t.className = `toast ${kind}`;
    t.dataset.kind = kind;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      t.hidden = true;
    }, kind === 'error' ? 8000 : 4000);
  }

  // ---- connection --------------------------------------------------------------------------------

  let ws = null;
  let seq = 0;
  let retryMs = 500;
  let stopped = false;
  const pending = new Map(); // id -> { action, resolve }
  const state = { hello: null, view: null, slots: [], session: { lastInvoice: null, inflight: [] }, day: null, amo: null, device: null };

  function setConn(text, ok) {
    const c = $('conn');
    c.textContent = text;
    c.className = `conn ${ok ? 'on' : 'off'}`;
    c.dataset.state = ok ? 'connected' : 'disconnected';
  }

  function connect() {
    if (!token) {
      setConn('Jeton d’accès manquant : ouvrez l’adresse complète affichée par di start', false);
      return;
    }
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?t=${encodeURIComponent(token)}`);
    ws.addEventListener('open', () => {
      retryMs = 500;
      setConn('Connecté', true);
    });
    ws.addEventListener('message', (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      onMessage(m);
    });
    ws.addEventListener('close', (ev) => {
      for (const [, p] of pending) p.resolve({ type: 'result', ok: false, error: { code: 'E_CLOSED', message: 'Connexion perdue' } });
      pending.clear();
      refreshButtons();
      if (ev.code === 4401) {
        stopped = true;
        setConn('Jeton d’accès invalide : ouvrez l’adresse complète affichée par di start', false);
        return;
      }
      if (ev.code === 4403) {
        stopped = true;
        setConn('Origine refusée', false);
        return;
      }
      setConn('Déconnecté — nouvelle tentative…', false);
      if (!stopped) setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    });
  }

  function sendRaw(m) {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      toast('Terminal non connecté', 'error');
      return false;
    }
    ws.send(JSON.stringify(m));
    return true;
  }

  /** An action on a domain: resolves with the server's result message. */
  function action(name, payload = {}, domain = HEALTH) {
    const id = `a${++seq}`;
    return new Promise((resolve) => {
      if (!sendRaw({ type: 'action', id, domain, action: name, payload })) {
        resolve({ type: 'result', ok: false, error: { code: 'E_CLOSED', message: 'Terminal non connecté' } });
        return;
      }
      pending.set(id, { action: name, resolve });
      refreshButtons();
    });
  }

  function request(m) {
    const id = `r${++seq}`;
    return new Promise((resolve) => {
      if (!sendRaw({ ...m, id })) return resolve({ ok: false });
      pending.set(id, { action: null, resolve });
    });
  }

  function onMessage(m) {
    switch (m.type) {
      case 'hello':
        state.hello = m;
        renderProfiles();
        renderSlots();
        refreshButtons();
        return;
      case 'view':
        state.view = m;
        renderView();
        return;
      case 'slots':
        state.slots = m.slots;
        renderSlots();
        return;
      case 'audit':
        renderAudit(m.entries);
        return;
      case 'amo':
        state.amo = m;
        renderAmo();
        return;
      case 'day':
        state.day = m;
        renderDay();
        return;
      case 'device':
        state.device = m;
        renderDevice();
        return;
      case 'session':
        state.session = m;
        renderLastInvoice();
        refreshButtons();
        // A page that did not ask (another tab, or this one reloaded mid-action) still shows how it ended.
        if (m.lastOutcome && state.ownOutcome) {
          // This page asked: its own, more precise wording is already shown.
          state.ownOutcome = false;
          state.outcomeShown = m.lastOutcome.at;
        } else if (m.lastOutcome && pending.size === 0 && m.lastOutcome.at !== state.outcomeShown) {
          state.outcomeShown = m.lastOutcome.at;
          const o = m.lastOutcome;
          const r = $('last-result');
          r.textContent = `Dernière opération « ${o.action} » : ${o.ok ? 'terminée' : `refusée${o.message ? ` : ${o.message}` : ''}`}`;
          r.className = `result ${o.ok ? 'ok' : 'err'}`;
          r.dataset.ok = o.ok ? 'true' : 'false';
        }
        return;
      case 'result': {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (p && p.action) state.ownOutcome = true;
        refreshButtons();
        if (p) p.resolve(m);
        return;
      }
      case 'error': {
        const p = m.id ? pending.get(m.id) : undefined;
        if (p) {
          pending.delete(m.id);
          refreshButtons();
          p.resolve({ type: 'result', ok: false, error: { code: m.code, message: m.message } });
        } else toast(m.message, 'error');
        return;
      }
    }
  }

  // ---- screen ------------------------------------------------------------------------------------

  function renderView() {
    const v = state.view;
    if (!v) return;
    $('screen-title').textContent = v.screen.title || '';
    $('screen-domain').textContent = v.domain ? v.domain : 'noyau';
    $('screen').dataset.domain = v.domain || '';
    const lines = $('screen-lines');
    // During a PIN entry the kernel's screen line is the prompt, which the PIN box shows: once is enough.
    const shown = v.pinEntry ? v.screen.lines.filter((l) => l !== v.pinEntry.prompt) : v.screen.lines;
    lines.replaceChildren(...shown.map((l, i) => el('div', { class: 'line', 'data-testid': 'screen-line', 'data-index': i }, l || '\u00a0')));
    const soft = $('screen-softkeys');
    soft.replaceChildren(...(v.screen.keys || []).map((k, i) => el('span', { class: 'softkey', 'data-testid': `screen-softkey-${i}` }, k)));
    const q = $('question');
    if (v.question) {
      q.hidden = false;
      $('question-text').textContent = v.question.title ? `${v.question.title} — ${v.question.text}` : v.question.text;
      $('question-choices').replaceChildren(
        ...v.question.choices.map((c, i) =>
          el('button', { type: 'button', class: 'choice', 'data-testid': `question-choice-${i}`, onclick: () => answer(i) }, `${i + 1}. ${c}`),
        ),
      );
    } else {
      q.hidden = true;
      $('question-choices').replaceChildren();
    }
    const p = $('pin-entry');
    if (v.pinEntry) {
      p.hidden = false;
      $('pin-prompt').textContent = v.pinEntry.prompt;
      // Only the count of digits is ever known here.
      const dots = $('pin-dots');
      dots.textContent = '•'.repeat(v.pinEntry.digits) || '\u00a0';
      dots.dataset.digits = String(v.pinEntry.digits);
    } else {
      p.hidden = true;
      $('pin-dots').dataset.digits = '0';
    }
  }

  async function answer(i) {
    const r = await request({ type: 'answer', choice: i });
    if (r && r.ok === false && r.error) toast(r.error.message, 'error');
  }

  function press(key) {
    sendRaw({ type: 'key', key });
  }

  for (const b of document.querySelectorAll('[data-key]')) b.addEventListener('click', () => press(b.dataset.key));

  document.addEventListener('keydown', (ev) => {
    const t = ev.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    let key = null;
    if (/^[0-9]$/.test(ev.key)) key = ev.key;
    else if (ev.key === 'Enter') key = 'OK';
    else if (ev.key === 'Escape') key = 'ANNULER';
    else if (ev.key === 'Backspace') key = 'CORR';
    if (!key) return;
    ev.preventDefault();
    press(key);
  });

  // ---- device menu: network cable, host link, pairing ---------------------------------------------

  function renderDevice() {
    const d = state.device;
    const net = $('net-toggle');
    const online = !d || d.online;
    net.textContent = `Réseau : ${online ? 'connecté' : 'coupé'}`;
    net.classList.toggle('off', !online);
    net.dataset.online = online ? 'true' : 'false';
    net.setAttribute('aria-pressed', online ? 'true' : 'false');
    net.title = online ? 'Cliquez pour débrancher le câble réseau' : 'Cliquez pour rebrancher le câble réseau';
    const link = $('link-state');
    const hl = d ? d.hostLink : null;
    const list = $('paired-list');
    const pairingBox = $('pairing-state');
    $('btn-pair').disabled = !hl;
    if (!hl) {
      link.textContent = d ? 'Lien avec l’ordinateur du cabinet : désactivé (di start --no-tla)' : 'Lien avec l’ordinateur du cabinet : …';
      link.dataset.paired = '0';
      list.replaceChildren();
      pairingBox.hidden = true;
      $('btn-pair-cancel').hidden = true;
      return;
    }
    link.textContent = `Lien avec l’ordinateur du cabinet : ${hl.address.host}:${hl.address.port} — terminal ${hl.deviceId} (empreinte ${hl.fingerprint}) — ${hl.paired.length} ordinateur(s) associé(s)`;
    link.dataset.paired = String(hl.paired.length);
    link.dataset.address = `${hl.address.host}:${hl.address.port}`;
    // The code is on the device screen only: here, just until when it is valid.
    const pairingOn = typeof hl.pairingUntil === 'number';
    pairingBox.hidden = !pairingOn;
    pairingBox.textContent = pairingOn ? `Code d’association affiché sur l’écran du terminal, valable jusqu’à ${frTime(hl.pairingUntil)}. Saisissez-le sur l’ordinateur (di tla pair).` : '';
    $('btn-pair-cancel').hidden = !pairingOn;
    if (hl.paired.length === 0) {
      list.replaceChildren(el('li', { class: 'muted' }, 'Aucun ordinateur associé.'));
      return;
    }
    list.replaceChildren(
      ...hl.paired.map((p, i) =>
        el(
          'li',
          { 'data-testid': `paired-${i}`, 'data-fingerprint': p.fingerprint },
          el('b', {}, p.name),
          ' ',
          el('span', { class: 'fp' }, p.short),
          ` — associé le ${new Date(p.pairedAt).toLocaleString('fr-FR')} `,
          el('button', { type: 'button', class: 'small', 'data-testid': `unpair-${i}`, onclick: () => unpair(p) }, 'Oublier'),
        ),
      ),
    );
  }

  async function deviceRequest(m, okText) {
    const r = await request(m);
    if (r && r.ok === false) toast(r.error ? r.error.message : 'Refusé', 'error');
    else if (r && r.ok && okText) toast(okText(r.result || {}), 'ok');
    return r;
  }

  function unpair(p) {
    return deviceRequest({ type: 'unpair', fingerprint: p.fingerprint }, () => `Ordinateur « ${p.name} » oublié : il ne peut plus se connecter au terminal`);
  }

  $('net-toggle').addEventListener('click', () => {
    const online = !(state.device && state.device.online === false);
    deviceRequest({ type: 'network', online: !online }, (x) => (x.online ? 'Réseau rebranché' : 'Réseau coupé : le terminal travaille hors ligne'));
  });
  $('btn-pair').addEventListener('click', () => deviceRequest({ type: 'pair.begin' }, () => 'Code d’association affiché sur l’écran du terminal'));
  $('btn-pair-cancel').addEventListener('click', () => deviceRequest({ type: 'pair.cancel' }, () => 'Association annulée'));

  // ---- slots and card profiles -------------------------------------------------------------------

  const KIND_LABEL = { cps: 'CPS', 'vitale-2': 'Vitale', vitale: 'Vitale', emv: 'Paiement (EMV)', hostile: 'Hostile', test: 'Test' };
  const profileKind = (p) => (p.name.startsWith('hostile-') ? 'hostile' : p.name.startsWith('emv-') ? 'emv' : p.name.startsWith('cps-') ? 'cps' : p.name.startsWith('vitale-') ? 'vitale' : p.name.startsWith('test-') ? 'test' : p.kind);

  function renderProfiles() {
    const box = $('profiles');
    const groups = new Map();
    for (const p of state.hello ? state.hello.profiles : []) {
      const k = profileKind(p);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(p);
    }
    box.replaceChildren(
      ...[...groups].map(([kind, list]) =>
        el(
          'div',
          { class: 'profile-group', 'data-testid': `profile-group-${kind}` },
          el('h4', {}, KIND_LABEL[kind] || kind),
          ...list.map((p) =>
            el(
              'div',
              {
                class: `card-profile kind-${kind}`,
                draggable: 'true',
                title: p.describe,
                'data-testid': `profile-${p.name}`,
                'data-profile': p.name,
                tabindex: '0',
                ondragstart: (ev) => {
                  ev.dataTransfer.setData('text/plain', p.name);
                  ev.dataTransfer.effectAllowed = 'copy';
                },
                onclick: () => insertFirstFree(p.name),
                onkeydown: (ev) => {
                  if (ev.key === 'Enter' || ev.key === ' ') {
                    ev.preventDefault();
                    ev.stopPropagation();
                    insertFirstFree(p.name);
                  }
                },
              },
              p.name,
            ),
          ),
        ),
      ),
    );
  }

  function renderSlots() {
    const n = state.hello ? state.hello.slotCount : state.slots.length;
    const box = $('slots');
    const items = [];
    for (let i = 0; i < n; i++) {
      const s = state.slots.find((x) => x.slot === i) || { slot: i, present: false, profile: null };
      const label = s.present ? s.profile || 'carte (insérée ailleurs)' : 'vide';
      const info = s.present ? (s.refused ? `refusée : ${s.refused}` : s.domain ? `${s.cardClass} → ${s.domain}` : 'lecture…') : 'glissez une carte ici';
      items.push(
        el(
          'div',
          {
            class: `slot ${s.present ? 'full' : 'empty'}`,
            'data-testid': `slot-${i}`,
            'data-present': s.present ? 'true' : 'false',
            'data-profile': s.profile || '',
            ondragover: (ev) => {
              ev.preventDefault();
              ev.currentTarget.classList.add('over');
            },
            ondragleave: (ev) => ev.currentTarget.classList.remove('over'),
            ondrop: (ev) => {
              ev.preventDefault();
              ev.currentTarget.classList.remove('over');
              const name = ev.dataTransfer.getData('text/plain');
              if (name) insert(i, name);
            },
            onclick: () => {
              if (s.present) remove(i);
            },
            title: s.present ? 'Cliquez pour retirer la carte' : 'Glissez une carte ici',
          },
          el('div', { class: 'slot-name' }, `Lecteur ${i}`),
          el('div', { class: 'slot-card', 'data-testid': `slot-${i}-card` }, label),
          el('div', { class: 'slot-info', 'data-testid': `slot-${i}-info` }, info),
          s.present ? el('button', { type: 'button', 'data-testid': `slot-${i}-remove`, onclick: (ev) => { ev.stopPropagation(); remove(i); } }, 'Retirer') : null,
        ),
      );
    }
    box.replaceChildren(...items);
  }

  async function insert(slot, profile) {
    const r = await request({ type: 'insert', slot, profile });
    if (r && r.ok === false && r.error) toast(r.error.message, 'error');
  }

  function insertFirstFree(profile) {
    const n = state.hello ? state.hello.slotCount : 0;
    for (let i = 0; i < n; i++) {
      const s = state.slots.find((x) => x.slot === i);
      if (!s || !s.present) return insert(i, profile);
    }
    toast('Aucun lecteur libre : retirez d’abord une carte', 'error');
  }

  async function remove(slot) {
    const r = await request({ type: 'remove', slot });
    if (r && r.ok === false && r.error) toast(r.error.message, 'error');
  }

  // ---- acts --------------------------------------------------------------------------------------

  let acts = [];
  $('act-date').value = todayIso();
  $('series-date').value = addDays(todayIso(), -7);

  function actLabel(a) {
    return [frDate(a.date), a.code, a.coefficient !== undefined ? `coef. ${a.coefficient}` : '', a.quantity !== undefined ? `× ${a.quantity}` : '', a.activity !== undefined ? `activité ${a.activity}, phase ${a.phase}` : '']
      .filter(Boolean)
      .join(' ');
  }

  function renderActs() {
    $('acts-list').replaceChildren(
      ...acts.map((a, i) =>
        el('li', { 'data-testid': `act-row-${i}` }, actLabel(a), ' ', el('button', { type: 'button', class: 'small', 'data-testid': `act-remove-${i}`, onclick: () => { acts.splice(i, 1); renderActs(); } }, 'retirer')),
      ),
    );
  }

  const careDate = () => $('act-date').value || todayIso();

  $('act-preset-G').addEventListener('click', () => {
    acts = [{ date: careDate(), code: 'G' }];
    $('series-on').checked = false;
    renderActs();
  });
  $('act-preset-VG').addEventListener('click', () => {
    const km = Math.max(1, Math.min(299, Number($('act-km').value) || 1));
    const d = careDate();
    acts = [{ date: d, code: 'VG' }, { date: d, code: 'MD' }, { date: d, code: 'IK', quantity: km }];
    $('series-on').checked = false;
    renderActs();
  });
  $('act-preset-series').addEventListener('click', () => {
    const n = Math.max(1, Math.min(30, Number($('series-days').value) || 1));
    const coef = Number($('series-coef').value) || 1;
    const km = Math.max(0, Math.min(299, Number($('series-km').value) || 0));
    const last = careDate();
    acts = [];
    for (let i = n - 1; i >= 0; i--) {
      const d = addDays(last, -i);
      acts.push({ date: d, code: 'AMI', coefficient: coef }, { date: d, code: 'IFD' });
      if (km > 0) acts.push({ date: d, code: 'IK', quantity: km });
    }
    $('series-on').checked = true;
    $('series-date').value = addDays(last, -n);
    $('ctx-parcours').value = 'exempt';
    renderActs();
  });
  $('act-preset-DEQP003').addEventListener('click', () => {
    acts = [{ date: careDate(), code: 'DEQP003', activity: '1', phase: '0' }];
    $('series-on').checked = false;
    renderActs();
  });
  $('btn-act-add').addEventListener('click', () => {
    const code = $('act-code').value.trim().toUpperCase();
    if (!/^[A-Z0-9]{1,8}$/.test(code)) return toast('Code d’acte invalide', 'error');
    const a = { date: careDate(), code };
    if ($('act-coef').value !== '') a.coefficient = Number($('act-coef').value);
    if ($('act-qty').value !== '') a.quantity = Math.trunc(Number($('act-qty').value));
    acts.push(a);
    renderActs();
  });
  $('btn-acts-clear').addEventListener('click', () => {
    acts = [];
    renderActs();
  });

  function context() {
    const c = {
      nature: $('ctx-nature').value,
      aldRelated: $('ctx-ald').checked,
      parcours: $('ctx-parcours').value,
      tiersPayantAmo: $('toggle-tp-amo').checked,
      tiersPayantAmc: $('toggle-tp-amc').checked,
    };
    const at = $('ctx-at').value.trim().toUpperCase();
    if (c.nature === 'at' && at) c.atNumber = at;
    return c;
  }

  function invoicePayload() {
    const p = { acts, context: context() };
    if ($('series-on').checked) p.series = { prescriberId: $('series-prescriber').value.trim(), prescriptionDate: $('series-date').value };
    if (!$('degraded-on').checked) return { name: 'fse.create', payload: p };
    const nir = $('dg-nir').value.trim().toUpperCase();
    const birth = ($('dg-birth').value || '').replaceAll('-', '');
    return {
      name: 'fse.degraded',
      payload: {
        ...p,
        insured: { nir, regime: $('dg-regime').value.trim(), caisse: $('dg-caisse').value.trim(), centre: $('dg-centre').value.trim(), codeGestion: $('dg-gestion').value.trim() },
        beneficiary: {
          surname: $('dg-surname').value.trim().toUpperCase(),
          firstName: $('dg-firstname').value.trim().toUpperCase(),
          birthDate: birth,
          birthRank: Math.trunc(Number($('dg-rank').value) || 1),
          quality: $('dg-quality').value.trim(),
          nir,
          nationality: 'FRA',
          rights: { start: $('dg-rights').value, ald: false, exoneration: '0' },
        },
      },
    };
  }

  // ---- actions and their buttons -----------------------------------------------------------------

  const BUTTON_ACTION = { 'btn-secure': ['fse.create', 'fse.degraded'], 'btn-pay': ['fse.pay'], 'btn-transmit': ['transmit'], 'btn-returns': ['returns.fetch'], 'btn-day': ['status'] };

  function running(names) {
    for (const p of pending.values()) if (p.action && names.includes(p.action)) return true;
    return (state.session.inflight || []).some((x) => x.domain === HEALTH && names.includes(x.action));
  }

  function refreshButtons() {
    const connected = ws && ws.readyState === WebSocket.OPEN;
    for (const [id, names] of Object.entries(BUTTON_ACTION)) {
      const b = $(id);
      const busy = running(names);
      b.disabled = !connected || busy || (id === 'btn-pay' && !state.session.lastInvoice);
      b.classList.toggle('busy', busy);
      b.dataset.busy = busy ? 'true' : 'false';
    }
  }

  function showResult(text, ok) {
    const r = $('last-result');
    r.textContent = text;
    r.className = `result ${ok ? 'ok' : 'err'}`;
    r.dataset.ok = ok ? 'true' : 'false';
    toast(text, ok ? 'ok' : 'error');
  }

  /** Runs an action and says in French what happened. Returns the applet's result (or null). */
  async function run(name, payload, describe) {
    const m = await action(name, payload);
    if (!m.ok) {
      showResult(`Refusé : ${m.error ? m.error.message : 'erreur'}`, false);
      return null;
    }
    const r = m.result;
    if (r && r.ok === false) {
      const issues = Array.isArray(r.issues) && r.issues.length > 1 ? ` (${r.issues.map((x) => x.message).join(' ; ')})` : '';
      showResult(`${r.error ? r.error.message : 'Opération refusée'}${issues}`, false);
      return r;
    }
    showResult(describe(r || {}), true);
    return r;
  }

  $('btn-secure').addEventListener('click', async () => {
    if (acts.length === 0) return toast('Ajoutez au moins un acte (actes courants ci-dessus)', 'error');
    const { name, payload } = invoicePayload();
    const r = await run(name, payload, (x) => `${name === 'fse.degraded' ? 'FSE dégradée' : 'FSE sécurisée'} n° ${x.invoiceNo}${x.dreNo ? `, DRE n° ${x.dreNo}` : ''} — à régler par le patient : ${euros(x.patientToPay)}${x.deadline ? ` — à transmettre avant le ${frDate(x.deadline)}` : ''}`);
    const dup = $('duplicate');
    if (r && r.ok && Array.isArray(r.duplicate)) {
      dup.textContent = r.duplicate.join('\n');
      dup.hidden = false;
    } else dup.hidden = true;
  });

  $('btn-pay').addEventListener('click', async () => {
    const inv = state.session.lastInvoice;
    if (!inv) return toast('Aucune FSE à encaisser', 'error');
    toast('Insérez la carte bancaire du patient puis saisissez son code sur le clavier', 'info');
    await run('fse.pay', { invoiceNo: inv.invoiceNo }, (x) => (x.status === 'approved' ? `Paiement accepté : ${euros(x.amount)} (FSE n° ${inv.invoiceNo})` : `Paiement non abouti (${x.status})`));
  });

  $('btn-transmit').addEventListener('click', async () => {
    await run('transmit', {}, (x) => `Transmission : ${x.lotsBuilt ?? 0} lot(s) constitué(s), ${(x.filesSent || []).length} fichier(s) envoyé(s)${(x.filesWaiting || []).length ? `, ${(x.filesWaiting || []).length} en attente` : ''}`);
  });

  $('btn-returns').addEventListener('click', async () => {
    await run('returns.fetch', {}, (x) => {
      const parts = [];
      if (x.arl) parts.push(`${x.arl} ARL reçu(s)`);
      if (x.rsp) parts.push(`${x.rsp} retour(s) de paiement (RSP)`);
      if (Array.isArray(x.rejects) && x.rejects.length) parts.push(`${x.rejects.length} rejet(s) à reprendre`);
      if (Array.isArray(x.corrupt) && x.corrupt.length) parts.push(`${x.corrupt.length} fichier(s) illisible(s) mis de côté`);
      return parts.length ? `Retours : ${parts.join(', ')} (détail à l’écran)` : 'Aucun retour nouveau';
    });
  });

  $('btn-day').addEventListener('click', async () => {
    await run('status', { show: true }, () => 'Journée actualisée');
  });

  function renderLastInvoice() {
    const inv = state.session.lastInvoice;
    const box = $('last-invoice');
    box.textContent = inv
      ? `Dernière facture : ${inv.degraded ? 'FSE dégradée' : 'FSE'} n° ${inv.invoiceNo}${inv.dreNo ? ` (DRE n° ${inv.dreNo})` : ''}${typeof inv.patientToPay === 'number' ? ` — à régler : ${euros(inv.patientToPay)}` : ''}`
      : 'Aucune FSE sécurisée dans cette session.';
    box.dataset.invoice = inv ? String(inv.invoiceNo) : '';
    $('btn-pay').textContent = inv ? `Encaisser par carte (FSE n° ${inv.invoiceNo})` : 'Encaisser par carte';
  }

  // ---- day view ----------------------------------------------------------------------------------

  const STATE_LABEL = {
    created: 'créées (à sécuriser)',
    secured: 'sécurisées',
    'in-lot': 'en lot',
    sent: 'envoyées',
    'arl-positive': 'ARL positive',
    'arl-negative': 'ARL négative',
    paid: 'payées',
    rejected: 'rejetées',
  };

  function renderDay() {
    const box = $('day');
    const d = state.day;
    if (!d || !d.available) {
      box.replaceChildren(el('p', { class: 'muted' }, 'Pas d’applet de facturation sur ce terminal.'));
      return;
    }
    const s = d.status;
    if (!s || s.ok !== true) {
      box.replaceChildren(el('p', { class: 'muted' }, d.error ? `Journée indisponible : ${d.error}` : 'Chargement…'));
      return;
    }
    const parts = [];
    parts.push(el('p', { class: 'muted', 'data-testid': 'day-date' }, `Au ${frDate(s.today)}${d.at ? ` (mis à jour ${new Date(d.at).toLocaleTimeString('fr-FR')})` : ''}`));
    // Late first.
    const late = s.late || [];
    parts.push(
      el(
        'div',
        { 'data-testid': 'day-late', class: late.length ? 'late' : '' },
        el('h4', {}, `En retard : ${late.length}`),
        ...late.map((l) => el('div', { 'data-testid': 'day-late-item' }, `FSE n° ${l.invoiceNo} — échéance dépassée le ${frDate(l.deadline)}`)),
      ),
    );
    parts.push(
      el(
        'div',
        { 'data-testid': 'day-deadlines' },
        el('div', {}, `À transmettre aujourd’hui : ${(s.dueToday || []).length}${(s.dueToday || []).length ? ` (n° ${s.dueToday.map((x) => x.invoiceNo).join(', ')})` : ''}`),
        el('div', {}, `À transmettre sous 2 jours : ${(s.dueSoon || []).length}${(s.dueSoon || []).length ? ` (n° ${s.dueSoon.map((x) => x.invoiceNo).join(', ')})` : ''}`),
      ),
    );
    parts.push(
      el(
        'table',
        { 'data-testid': 'day-states', class: 'states' },
        el('tbody', {}, ...Object.keys(STATE_LABEL).map((k) => el('tr', { 'data-testid': `day-state-${k}` }, el('td', {}, `FSE/DRE ${STATE_LABEL[k]}`), el('td', { class: 'num' }, String((s.byState || {})[k] ?? 0))))),
      ),
    );
    const toSecure = s.toSecure || [];
    if (toSecure.length) {
      parts.push(
        el(
          'div',
          { 'data-testid': 'day-to-secure' },
          el('h4', {}, 'Factures numérotées à sécuriser'),
          ...toSecure.map((no) =>
            el('button', { type: 'button', 'data-testid': `btn-secure-pending-${no}`, onclick: () => run('fse.secure', { invoiceNo: no }, (x) => `FSE n° ${x.invoiceNo} sécurisée`) }, `Sécuriser la FSE n° ${no}`),
          ),
        ),
      );
    }
    parts.push(el('div', { 'data-testid': 'day-lots' }, `Lots en attente : ${s.lotsPending ?? 0} — fichiers en attente d’envoi : ${(s.filesWaiting || []).length}`));
    for (const f of s.filesWaiting || []) parts.push(el('div', { class: 'muted' }, `${f.fileId} : ${f.attempts} essai(s)${f.lastError ? `, ${f.lastError}` : ''}, prochain à ${frTime(f.nextAttemptAt)}`));
    const rejects = s.rejectsToRedo || [];
    parts.push(
      el(
        'div',
        { 'data-testid': 'day-rejects', class: rejects.length ? 'late' : '' },
        el('h4', {}, `Rejets à reprendre : ${rejects.length}`),
        ...rejects.map((r) => el('div', {}, `FSE n° ${r.invoiceNo} (${r.source}) : ${r.code} ${r.text}`)),
      ),
    );
    const p = s.payments || {};
    parts.push(
      el(
        'div',
        { 'data-testid': 'day-payments' },
        el('h4', {}, 'Paiements'),
        el('div', {}, `Par carte : ${p.approved ?? 0} accepté(s), ${p.declined ?? 0} refusé(s)${p.pending ? `, ${p.pending} interrompu(s)` : ''} — ${euros(p.amount ?? 0)}`),
        el('div', {}, `Remboursements reçus de l’Assurance Maladie : ${(s.paid || {}).count ?? 0} — ${euros((s.paid || {}).amount ?? 0)}`),
      ),
    );
    box.replaceChildren(...parts);
  }

  // ---- AMO side ----------------------------------------------------------------------------------

  function renderAmo() {
    const m = state.amo;
    const stats = $('amo-stats');
    const files = $('amo-files');
    if (!m || !m.available) {
      stats.replaceChildren(el('p', { class: 'muted' }, 'Émulateur de l’Assurance Maladie non démarré.'));
      files.replaceChildren();
      return;
    }
    const st = m.stats || {};
    const stat = (k, label) => el('div', { class: 'stat', 'data-testid': `amo-stat-${k}` }, el('b', {}, String(st[k] ?? 0)), ` ${label}`);
    stats.replaceChildren(
      stat('filesReceived', 'fichier(s) reçu(s)'),
      stat('lots', 'lot(s)'),
      stat('invoicesAccepted', 'facture(s) acceptée(s)'),
      stat('invoicesRejected', 'facture(s) rejetée(s)'),
      stat('arlSent', 'ARL envoyé(s)'),
      stat('rspSent', 'RSP envoyé(s)'),
      stat('paid', 'facture(s) payée(s)'),
    );
    const list = Array.isArray(m.files) ? m.files : [];
    if (list.length === 0) {
      files.replaceChildren(el('p', { class: 'muted' }, 'Aucun fichier reçu.'));
      return;
    }
    files.replaceChildren(
      ...list.map((f, i) => {
        const acc = (f.invoices || []).filter((x) => x.status === 'accepted').length;
        const rej = (f.invoices || []).filter((x) => x.status === 'rejected');
        return el(
          'div',
          { class: `amo-file ${f.status}`, 'data-testid': `amo-file-${i}`, 'data-file-id': f.fileId },
          el('div', { class: 'file-head' }, `${f.fileId} — ${f.status === 'processed' ? 'traité' : 'refusé'} — reçu à ${frTime(f.receivedAt)} (dest. ${f.destination})`),
          ...(f.lots || []).map((l) =>
            el('div', { class: `arl ${l.status}`, 'data-testid': `amo-arl-${l.lotNo}` }, `Lot ${l.lotNo} : ARL ${l.status === 'positive' ? 'positive' : 'négative'}${l.reason ? ` (${l.reason.code} ${l.reason.text})` : ''}`),
          ),
          el('div', {}, `Factures : ${acc} acceptée(s), ${rej.length} rejetée(s)`),
          ...rej.map((x) => el('div', { class: 'muted' }, `${x.kind} n° ${x.invoiceNo} : ${x.code ?? ''} ${x.text ?? ''}`)),
        );
      }),
    );
  }

  // ---- audit -------------------------------------------------------------------------------------

  function renderAudit(entries) {
    const box = $('audit');
    box.replaceChildren(
      ...[...entries].reverse().map((e) =>
        el(
          'li',
          { 'data-testid': 'audit-entry', 'data-event': e.event, class: /refused|violation|breach|down|failed/.test(e.event) ? 'warn' : '' },
          el('span', { class: 'ts' }, e.ts.slice(11, 19)),
          ' ',
          el('span', { class: 'ev' }, e.event),
          e.domain ? el('span', { class: 'dom' }, ` [${e.domain}]`) : null,
          e.fields ? el('span', { class: 'fields' }, ` ${e.fields}`) : null,
        ),
      ),
    );
  }

  refreshButtons();
  connect();
})();
