import type { ReactNode } from 'react';
import { connection } from '../api/client';
import { useConnection } from '../api/hooks';
import { Button } from './ui';

/**
 * Browser mode's connection states in front of the app: a page saying how to get in when the tab has
 * no valid access token, and a banner while the server is unreachable (what the app shows may be out
 * of date then: a job shown as running may have stopped). The desktop app is always connected.
 */
export function ConnectionGate({ children }: { children: ReactNode }) {
  const { state } = useConnection();
  if (state === 'no-token' || state === 'token-refused') return <AccessPage restarted={state === 'token-refused'} />;
  return (
    <>
      {state === 'disconnected' && (
        <div className="connection-banner banner banner-danger" role="alert">
          <div>
            <strong>Disconnected from the workbench server.</strong> What is shown may be out of date (jobs shown as running may have stopped). Reconnecting…
          </div>
          <Button variant="ghost" onClick={() => connection.retryNow()}>
            Retry now
          </Button>
        </div>
      )}
      {children}
    </>
  );
}

function AccessPage({ restarted }: { restarted: boolean }) {
  return (
    <main className="access-page" id="main">
      <div className="access-card">
        <h1>{restarted ? 'The workbench server restarted' : 'Open SafeTune Workbench from its start-up URL'}</h1>
        {restarted ? (
          <p>
            The server at this address no longer accepts this page&apos;s access token: it was restarted, and every start makes a new one. Open the new URL it
            printed in the terminal (it ends in <code>#token=…</code>).
          </p>
        ) : (
          <p>
            This page needs the access token from the URL printed in the terminal where you ran <code>npm start</code> (it looks like{' '}
            <code>http://127.0.0.1:PORT/#token=…</code>). Open that URL.
          </p>
        )}
        {restarted ? (
          <p>
            Opened it in another tab already?{' '}
            <Button variant="secondary" onClick={() => location.reload()}>
              Reload this page
            </Button>
          </p>
        ) : (
          <>
            <p>If the server is not running, start it in the project folder with:</p>
            <pre className="access-command">npm start</pre>
            <p className="muted">
              or <code>npx safetune serve</code> — on a remote machine add <code>--port 8765 --no-open</code> and forward the port with{' '}
              <code>ssh -L 8765:127.0.0.1:8765 host</code>.
            </p>
          </>
        )}
      </div>
    </main>
  );
}
