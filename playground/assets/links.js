// Links that open a chosen setup (docs/links.md): once the server has checked the Train tab's values, "Copy link"
// puts the link on the clipboard (when the browser lets it: the box shows it either way) and "Settings (.json)"
// saves the file the server wrote, from the page (no file is left on the server for it).
() => {
  window.s2sLinks = {
    copy(url) {
      const box = document.getElementById('share-link');
      if (!url || !box) return;
      box.classList.remove('s2s-copied');
      if (!navigator.clipboard || !window.isSecureContext) return;
      navigator.clipboard.writeText(url).then(() => box.classList.add('s2s-copied'), () => {});
    },
    download(carried) {
      let file;
      try { file = JSON.parse(carried || 'null'); } catch (e) { return; }
      if (!file || typeof file.text !== 'string' || typeof file.name !== 'string') return;
      const url = URL.createObjectURL(new Blob([file.text], {type: 'application/json'}));
      const a = document.createElement('a');
      a.href = url;
      a.download = file.name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    },
  };
}
