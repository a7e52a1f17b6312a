import { useEffect, useState } from 'react';
import { AuthProvider } from 'authbridge/react';
import { Status } from './Status.jsx';
import { Controls } from './Controls.jsx';

export function App() {
  const [csrf, setCsrf] = useState(null);
  const [renders, setRenders] = useState(0);
  const [bridgeTimeout, setBridgeTimeout] = useState(10);
  // Through the dev proxy, the bridge's first answer sets its CSRF cookie; /csrf also returns the value.
  useEffect(() => {
    fetch('/csrf').then((r) => r.json()).then((body) => setCsrf(body.csrfToken));
  }, []);
  if (!csrf) return <p id="loading">loading</p>;
  // A new options object on every render: AuthProvider compares them by value and keeps its client, until a
  // value changes (#change-options).
  const options = { tokenUrl: '/auth/point/token', apiOrigins: [location.origin], bridgeHeaders: { 'X-CSRF-Token': csrf }, bridgeTimeout };
  return (
    <AuthProvider options={options}>
      <Status />
      <Controls csrf={csrf} />
      <button id="rerender" onClick={() => setRenders(renders + 1)}>re-render ({renders})</button>
      <button id="change-options" onClick={() => setBridgeTimeout(bridgeTimeout + 1)}>bridgeTimeout {bridgeTimeout}</button>
    </AuthProvider>
  );
}
