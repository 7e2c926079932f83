// The guided tour (playground/tour.py writes its steps into #s2s-tour): Back / Next, "Show me" (its event sets the
// step's controls on the server, then `ready` presses the step's own button as a person would), where to look
// highlighted and scrolled into view below the panel, clicker keys, ?tour=1 and the presenter switch.
() => {
  const T = {i: 0, open: false, shown: new Set(), look: null, watch: null};
  const q = (sel) => document.querySelector(sel);
  const panels = () => [...document.querySelectorAll('.s2s-tour')];  // the group, and Gradio's wrapper of it
  const panel = () => panels()[0];  // the outer one: fixed at the top
  const steps = () => [...document.querySelectorAll('.s2s-tour .s2s-tour-step')];
  const step = () => steps()[T.i];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  async function until(test, ms) {
    for (let t = 0; t < ms; t += 100) { const v = test(); if (v) return v; await sleep(100); }
    return null;
  }
  const shown = (el) => !!el && el.getClientRects().length > 0 && el.getBoundingClientRect().height > 0;

  function render() {
    document.body.classList.toggle('s2s-touring', T.open);
    panels().forEach((p) => { p.style.display = T.open ? 'block' : 'none'; });
    steps().forEach((s) => { s.hidden = +s.dataset.step !== T.i; });
  }
  function clearLook() {
    if (T.watch) { clearInterval(T.watch); T.watch = null; }
    document.querySelectorAll('.s2s-look').forEach((e) => e.classList.remove('s2s-look'));
    T.look = null;
  }
  // the room the panel and a phone's Train bar leave for what to look at
  function room() {
    const p = panel(), bar = q('#train-buttons');
    const r = p && T.open ? p.getBoundingClientRect() : null;
    const top = r && r.top < 10 ? r.bottom : 0;
    let bottom = window.innerHeight;
    if (r && r.top >= 10) bottom = Math.min(bottom, r.top);
    if (bar && getComputedStyle(bar).position === 'fixed' && shown(bar)) bottom = Math.min(bottom, bar.getBoundingClientRect().top);
    return {top, bottom};
  }
  function intoView(el) {
    const {top, bottom} = room(), r = el.getBoundingClientRect();
    if (r.top >= top + 4 && r.bottom <= bottom - 4) return;
    const fits = r.height <= bottom - top - 16;
    const y = fits && r.top > top ? r.bottom - (bottom - 8) : r.top - (top + 8);
    window.scrollBy({top: y, behavior: 'instant'});
  }
  // highlight where to look (once it is on the page) and keep it in view while its result fills in: the view may
  // be made anew (a plot hidden while a new run starts) or grow (a table filling) in the 15 s after it appears
  function pointAt(id) {
    clearLook();
    T.look = id;
    T.scrolled = false;
    let el = null, height = 0, ticks = 0, since = 0;
    const tick = () => {
      if (T.look !== id || !T.open) { clearInterval(T.watch); T.watch = null; return; }
      ticks += 1;
      const now = document.getElementById(id);
      if (!shown(now)) return;
      const h = Math.round(now.getBoundingClientRect().height);
      if (now !== el) { since = ticks; el = now; now.classList.add('s2s-look'); }
      // the page moves as results come: kept in view for 15 s, unless the person scrolls it themselves
      if ((ticks - since < 150 && !T.scrolled) || (h !== height && !T.scrolled)) intoView(now);
      height = h;
    };
    T.watch = setInterval(tick, 100);
    tick();
  }
  function openTab(name) {  // the tab the step is on, as a click on its name would (Show me sets it on the server)
    const tab = q(`#tabs button[role=tab][data-tab-id="${name}"]`);
    if (tab && tab.getAttribute('aria-selected') !== 'true') tab.click();
  }
  function go(i) {
    const n = steps().length;
    if (i >= n) return leave();
    T.i = Math.max(0, i);
    clearLook();
    render();
    const s = step();
    openTab(s.dataset.tab);
    const look = document.getElementById(s.dataset.look);
    if (shown(look)) pointAt(s.dataset.look);
    const back = q('.s2s-tour [data-tour=back]'), next = q('.s2s-tour [data-tour=next]');
    if (back) back.disabled = T.i === 0;
    if (next) next.textContent = T.i === steps().length - 1 ? 'Finish' : 'Next →';
    const b = q('#tour-show');
    if (b) b.focus({preventScroll: true});
  }
  function start(i) { T.open = true; T.shown.clear(); go(i || 0); }
  function leave() {
    T.open = false;
    clearLook();
    render();
    const s = q('#tour-start');
    if (s) s.focus({preventScroll: true});
  }
  function showMe() {
    const b = q('#tour-show');
    if (b) b.click();  // its event sends the step; the server sets the controls, then ready() carries on
  }
  // the controls are set: press the step's button (or give its example), then point at where to look
  async function ready() {
    const i = T.i;
    if (!T.open) return;
    const s = step();
    if (s.dataset.example) {
      const b = await until(() => { const e = document.getElementById(`example-${s.dataset.example}`); return shown(e) && e; }, 10000);
      if (b) b.click();
    }
    if (s.dataset.press) {
      await sleep(150);  // the controls' own change events first (a strategy shows its fields)
      const b = await until(() => { const e = document.getElementById(s.dataset.press); return e && !e.disabled && e; }, 10000);
      const answer = () => { const v = q('#decode-verdict'); return v ? v.innerText : ''; }, before = answer();
      if (b) b.click();
      if (s.dataset.view) {  // a decoding opens its own view: open the step's once the decoding is shown
        const idle = () => { const t = q('#decode-verdict [data-testid=status-tracker]'); return !t || t.classList.contains('hide'); };
        await until(() => idle() && answer() !== before, 20000);
        for (let n = 0; n < 6 && i === T.i && !shown(document.getElementById(s.dataset.look)); n++) {
          // the view's tab by its name (on a phone it may sit in the tabs' "⋯" menu: its item there is the last)
          const named = [...document.querySelectorAll('#decode-views button')]
            .filter((b) => b.textContent.trim() === s.dataset.view);
          if (named.length) named[named.length - 1].click();
          await until(() => shown(document.getElementById(s.dataset.look)), 800);
        }
      }
    }
    if (i === T.i) pointAt(s.dataset.look);
  }
  function beat() {  // a clicker's PageDown: "Show me" first, then the next step
    if (!T.shown.has(T.i)) showMe(); else go(T.i + 1);
  }
  function presenter(on) {
    document.body.classList.toggle('s2s-presenter', on);
    const box = q('#presenter-switch');
    if (box && box.checked !== on) box.checked = on;
  }
  window.s2sTour = {ready, start, leave, go: (i) => go(i), state: () => ({open: T.open, step: T.i, look: T.look})};

  document.addEventListener('click', (e) => {
    if (e.target.closest('#tour-show')) { T.shown.add(T.i); return; }  // (its own event does the rest)
    const b = e.target.closest('[data-tour]');
    if (!b) return;
    const a = b.dataset.tour;
    if (a === 'start') start(0);
    else if (a === 'leave') leave();
    else if (a === 'back') go(T.i - 1);
    else if (a === 'next') go(T.i + 1);
  });
  const byHand = () => { if (T.look) T.scrolled = true; };  // a person scrolling: the tour stops moving the page
  ['wheel', 'touchmove'].forEach((kind) => window.addEventListener(kind, byHand, {passive: true}));
  document.addEventListener('change', (e) => { if (e.target.id === 'presenter-switch') presenter(e.target.checked); });
  document.addEventListener('keydown', (e) => {
    if (!T.open || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) && t.type !== 'checkbox';
    if (typing) return;  // arrows and page keys belong to the field being edited
    if (e.key === 'PageDown' || e.key === 'ArrowRight') { e.preventDefault(); beat(); }
    else if (e.key === 'PageUp' || e.key === 'ArrowLeft') { e.preventDefault(); go(T.i - 1); }
    else if (e.key === 'Escape') { e.preventDefault(); leave(); }
  });
  const params = new URLSearchParams(location.search);
  if (['1', 'true', 'on', 'yes'].includes((params.get('presenter') || '').toLowerCase())) presenter(true);
  const asked = params.get('tour');
  if (asked !== null && asked !== '0') {
    const n = parseInt(asked, 10);
    until(() => panel() && q('#tour-show'), 30000).then((ok) => {
      if (ok) start(n >= 1 && n <= steps().length ? n - 1 : 0);
    });
  }
}
