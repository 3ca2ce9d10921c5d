/**
 * The Electron window's security settings and navigation policy, kept free of Electron imports so
 * they can be unit-tested under plain Node; src/main/index.ts applies them. The window shows
 * app://safetune/index.html (see appProtocol.ts), and that origin is the only one it may load,
 * navigate to, or call the main process from.
 */
import { join } from 'node:path';
import { APP_INDEX_URL, isAppUrl } from './appProtocol';

export interface WindowPolicy {
  /** The built renderer folder app:// serves. */
  rendererDir: string;
  /** The page the window loads. */
  rendererUrl: string;
  preload: string;
}

export function windowPolicy(mainDir: string): WindowPolicy {
  return {
    rendererDir: join(mainDir, '..', 'renderer'),
    rendererUrl: APP_INDEX_URL,
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
    experimentalFeatures: false,
    webviewTag: false,
    spellcheck: false,
  } as const;
}

/** Only the app's own origin (and devtools) may load: no remote content, no file://. */
export function isAllowedRequest(url: string): boolean {
  return isAppUrl(url) || url.startsWith('devtools://');
}

/** Navigation away from the app page is denied (hash routes stay on the same document). */
export function isAllowedNavigation(url: string, p: WindowPolicy): boolean {
  return url === p.rendererUrl || url.startsWith(p.rendererUrl + '#');
}

/** IPC calls are accepted only from frames showing the app's own origin. */
export function isTrustedSender(url: string): boolean {
  return isAppUrl(url);
}
