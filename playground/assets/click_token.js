// A click on a token in the heatmap or a bar in the player asks "what if it had been chosen here?" (js_on_load
// of the HTML components that show them: `element` is the component, `trigger` sends its click event)
element.addEventListener('click', (e) => {
  const cell = e.target.closest('[data-token]');
  if (!cell) return;
  const row = cell.closest('[data-step]');
  const step = +(cell.dataset.step || (row && row.dataset.step));
  if (step) trigger('click', {step: step, token: cell.dataset.token});
});
