// The step-by-step player runs in the page: every step's panel arrives with the decoding, so stepping needs no
// server round trip (two quick clicks cannot race) and the step table and both heatmaps highlight the same step.
// It also shows a beam tree node's whole sequence under the tree when the node is tapped or hovered.
() => {
  const S = {t: 1, timer: null, body: null};
  const q = (sel) => document.querySelector(sel);
  const count = () => { const b = q('#playback-body'); return b ? +b.dataset.steps : 0; };
  function apply() {
    const body = q('#playback-body');
    if (!body) return;
    if (body !== S.body) { S.body = body; S.t = 1; stop(); }
    const t = S.t;
    body.querySelectorAll('.s2s-panel').forEach(p => { const h = +p.dataset.step !== t; if (p.hidden !== h) p.hidden = h; });
    const range = q('#playback-step'); if (range && +range.value !== t) range.value = t;
    const at = q('#playback-at'), text = t + ' / ' + count(); if (at && at.textContent !== text) at.textContent = text;
    document.querySelectorAll('#distribution-table tr[data-step], #attention-table tr[data-step]')
      .forEach(tr => tr.classList.toggle('s2s-current', +tr.dataset.step === t));
    document.querySelectorAll('#decode-steps [role=row]').forEach(row => {
      const cell = row.querySelector('[role=gridcell]');
      row.classList.toggle('s2s-current', !!cell && parseInt(cell.textContent) === t);
    });
  }
  function go(t) { const n = count(); if (!n) return; S.t = Math.max(1, Math.min(n, t)); apply(); }
  function stop() { if (S.timer) { clearInterval(S.timer); S.timer = null; } const b = q('#playback-play'); if (b && b.textContent !== 'Play') b.textContent = 'Play'; }
  function play() {
    if (S.timer) return stop();
    if (S.t >= count()) S.t = 0;
    go(S.t + 1);
    const b = q('#playback-play'); if (b) b.textContent = 'Pause';
    S.timer = setInterval(() => { if (S.t >= count()) return stop(); go(S.t + 1); }, 700);
  }
  document.addEventListener('click', e => {
    const button = e.target.closest('[data-s2s]');
    if (button) { const a = button.dataset.s2s; if (a === 'play') play(); else { stop(); go(S.t + (a === 'next' ? 1 : -1)); } return; }
    const cell = e.target.closest('#decode-steps [role=gridcell]');
    const row = cell && cell.closest('[role=row]');
    const first = row && row.querySelector('[role=gridcell]');
    if (first && parseInt(first.textContent)) { stop(); go(parseInt(first.textContent)); return; }
    const tr = e.target.closest('#distribution-table tr[data-step], #attention-table tr[data-step]');
    if (tr) { stop(); go(+tr.dataset.step); return; }
    const node = e.target.closest('#beam-tree g.node');
    if (node) showNode(node);
  });
  // a beam tree node tapped (a touch screen cannot hover): its title (the whole sequence) written under the tree
  function showNode(node) {
    const info = q('#beam-node-info'), title = node.querySelector('title');
    if (!info || !title) return;
    document.querySelectorAll('#beam-tree g.node.tapped').forEach(g => g.classList.remove('tapped'));
    node.classList.add('tapped');
    info.textContent = title.textContent;
  }
  document.addEventListener('mouseover', e => {
    const node = e.target.closest && e.target.closest('#beam-tree g.node');
    if (node) showNode(node);
  });
  document.addEventListener('input', e => { if (e.target.id === 'playback-step') { stop(); go(+e.target.value); } });
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; apply(); });
  }).observe(document.body, {childList: true, subtree: true});
}
