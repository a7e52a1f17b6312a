// A server component: the page itself renders on the server; the account below is a client component.
import { Account } from './account.js';

export default function Page() {
  return (
    <main>
      <h1>authbridge in Next.js</h1>
      <Account />
    </main>
  );
}
