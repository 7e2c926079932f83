// A click on a token in the heatmap or a bar in the player asks "what if it had been chosen here?" (js_on_load
// of the HTML components that show them: `element` is the component, `trigger` sends its click event); so does
// Enter or Space on one focused from the keyboard (each is tabindex=0, role=button, labelled with step and token).
element.addEventListener('click', (e) => {
  const cell = e.target.closest('[data-token]');
  if (!cell) return;
  const row = cell.closest('[data-step]');
  const step = +(cell.dataset.step || (row && row.dataset.step));
  if (step) trigger('click', {step: step, token: cell.dataset.token});
});
element.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' && e.key !== ' ') return;
  const cell = e.target.closest('[data-token]');
  if (!cell || cell !== e.target) return;
  e.preventDefault();  // Space would scroll the page
  cell.click();  // the same click as the mouse's: the step selected (page.js), then "what if"
});
