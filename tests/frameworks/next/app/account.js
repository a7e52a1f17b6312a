'use client';
// The test's page: the state of useAuth() and buttons that sign in at the bridge, call its API and sign out, each
// reporting its outcome in #result (numbered, so that the same outcome twice is seen).
import { useState } from 'react';
import { useAuth } from 'authbridge/react';

export function Account() {
  const { status, claims, error, client } = useAuth();
  const [result, setResult] = useState({ n: 0, text: '' });
  const report = (text) => setResult((r) => ({ n: r.n + 1, text }));
  const act = (fn) => () => fn().then(report, (e) => report(`failed: ${e.code ?? e.name}: ${e.message}`));

  const signIn = act(async () => {
    const { csrfToken } = await (await fetch('/csrf')).json();
    const r = await fetch('/session', {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify({ username: 'ada', password: 'lovelace', provider: 'point' }),
    });
    if (!r.ok) throw new Error(`sign-in answered ${r.status}: ${await r.text()}`);
    return `signed in: ${await client.start()}`;
  });
  const callApi = act(async () => {
    const r = await client.fetch('/api/point/me');
    return `api ${r.status} ${(await r.json()).sub}`;
  });
  const signOut = act(async () => { await client.signOut(); return 'signed out'; });

  return (
    <div>
      <p id="status">{status}</p>
      <p id="sub">{claims?.sub ?? ''}</p>
      <p id="error">{error ? `${error.code}: ${error.message}` : ''}</p>
      <button id="signin" disabled={!client || status === 'signedIn'} onClick={signIn}>Sign in</button>
      <button id="call" disabled={status !== 'signedIn'} onClick={callApi}>Call the API</button>
      <button id="signout" disabled={status !== 'signedIn'} onClick={signOut}>Sign out</button>
      <output id="result" data-n={result.n}>{result.text}</output>
    </div>
  );
}
