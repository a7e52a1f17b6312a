import { useAuth } from 'authbridge/react';

export function Status() {
  const { status, claims, expiresAt, error } = useAuth();
  return (
    <dl>
      <dt id="label">Status</dt>
      <dd id="status">{status}</dd>
      <dt>Subject</dt>
      <dd id="sub">{claims?.sub ?? ''}</dd>
      <dt>Expires</dt>
      <dd id="expires">{expiresAt ? new Date(expiresAt).toISOString() : ''}</dd>
      <dt>Error</dt>
      <dd id="error">{error ? `${error.code}: ${error.message}` : ''}</dd>
    </dl>
  );
}
