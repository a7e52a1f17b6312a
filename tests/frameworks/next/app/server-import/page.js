// A server component that renders <AuthProvider> itself: this builds and renders only because authbridge/react is
// marked 'use client' (without it, `next build` fails: createContext is not a function in the server's React).
// The test reads this page's server-rendered HTML; no browser opens it (its bridge URL leads nowhere).
import { AuthProvider } from 'authbridge/react';

export default function Page() {
  return (
    <AuthProvider options={{ tokenUrl: 'http://127.0.0.1:9/auth/token', apiOrigins: ['http://127.0.0.1:9'] }}>
      <p id="server-import">rendered by a server component</p>
    </AuthProvider>
  );
}
