// The element page's one listener (a file, not an inline script: the server's
// Content-Security-Policy allows no inline script).
document.querySelector('liveproof-check').addEventListener('final_result', (e) => {
  document.getElementById('out').textContent = JSON.stringify(e.detail);
});
