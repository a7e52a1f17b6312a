import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AuthClient } from 'authbridge';
import { App } from './App.jsx';

// Test hook: the clients started and not yet freed, and how many were ever started. AuthProvider imports the
// same module instance, so its clients pass through these wrappers.
const live = new Set();
window.authbridgeClients = { live, started: 0 };
const { start, free } = AuthClient.prototype;
AuthClient.prototype.start = function (...args) {
  if (!live.has(this)) window.authbridgeClients.started += 1;
  live.add(this);
  return start.apply(this, args);
};
AuthClient.prototype.free = function () {
  live.delete(this);
  return free.call(this);
};

createRoot(document.getElementById('root')).render(<StrictMode><App /></StrictMode>);
