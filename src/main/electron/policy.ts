/**
 * The Electron window's security settings and navigation policy, kept free of Electron imports so
 * they can be unit-tested under plain Node; src/main/index.ts applies them.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface WindowPolicy {
  rendererIndex: string;
  rendererUrl: string;
  /** file:// URL prefix of the packaged renderer folder (with a trailing slash). */
  rendererRoot: string;
  preload: string;
}

export function windowPolicy(mainDir: string): WindowPolicy {
  const rendererDir = join(mainDir, '..', 'renderer');
  const rendererIndex = join(rendererDir, 'index.html');
  return {
    rendererIndex,
    rendererUrl: pathToFileURL(rendererIndex).href,
    rendererRoot: pathToFileURL(rendererDir).href + '/',
    preload: join(mainDir, '..', 'preload', 'index.cjs'),
  };
}

/** BrowserWindow webPreferences: isolated, sandboxed, no Node in the page. */
export function secureWebPreferences(preload: string) {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
  } as const;
}

/** Only the packaged renderer (and devtools) may load: no remote content. */
export function isAllowedRequest(url: string, p: WindowPolicy): boolean {
  return url.startsWith(p.rendererRoot) || url.startsWith('devtools://');
}

/** Navigation away from the app page is denied (hash routes stay on the same document). */
export function isAllowedNavigation(url: string, p: WindowPolicy): boolean {
  return url === p.rendererUrl || url.startsWith(p.rendererUrl + '#');
}

/** IPC calls are accepted only from frames showing the packaged renderer. */
export function isTrustedSender(url: string, p: WindowPolicy): boolean {
  return url.startsWith(p.rendererRoot);
}
