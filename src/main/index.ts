/**
 * Electron entry: one hardened window over the shared services, showing the built renderer from
 * app://safetune/ (never file://). Started by `npm start` when the Electron runtime is present
 * (scripts/start.js falls back to browser mode otherwise).
 */
import { app, BrowserWindow, dialog, protocol, session, type Session } from 'electron';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDispatcher } from './app/dispatch';
import { createHandlers } from './app/handlers';
import { createServices, type Services } from './app/services';
import { resolveWorkspace } from './app/workspace';
import { APP_SCHEME, APP_SCHEME_PRIVILEGES, handleAppRequest } from './electron/appProtocol';
import { isAllowedNavigation, isAllowedRequest, isTrustedSender, secureWebPreferences, windowPolicy } from './electron/policy';
import { bindIpc } from './ipc';
import { defaultWorkerScript } from './jobs/runner';
import { CONTENT_SECURITY_POLICY_HEADER } from '../shared/security';

const policy = windowPolicy(dirname(fileURLToPath(import.meta.url)));

let services: Services | null = null;

app.setName('SafeTune Workbench');
app.enableSandbox();
// Before ready: app:// is a standard, secure origin for the window's page.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { ...APP_SCHEME_PRIVILEGES } }]);

if (!app.requestSingleInstanceLock()) {
  app.quit();
}

app.on('second-instance', () => {
  const win = BrowserWindow.getAllWindows()[0];
  if (win) {
    if (win.isMinimized()) win.restore();
    win.focus();
  }
});

// Deny navigation, new windows, permission prompts and webviews for every web contents.
app.on('web-contents-created', (_e, contents) => {
  contents.on('will-navigate', (event, url) => {
    if (!isAllowedNavigation(url, policy)) event.preventDefault();
  });
  // will-navigate covers the main frame only; this one sees every frame.
  contents.on('will-frame-navigate', (details) => {
    if (!isAllowedNavigation(details.url, policy)) details.preventDefault();
  });
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

async function main(): Promise<void> {
  await app.whenReady();
  const ses = session.defaultSession;
  denyPermissions(ses);
  protocol.handle(APP_SCHEME, (request) => handleAppRequest(request, policy.rendererDir));
  // No remote content: only the app's own origin and devtools may load.
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequest(details.url) }));
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY_HEADER] } });
  });

  const platform = {
    async pickPath(o: { kind: 'file' | 'folder'; title?: string }) {
      const win = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
      const opts = { title: o.title, properties: [o.kind === 'folder' ? ('openDirectory' as const) : ('openFile' as const)] };
      const r = win ? await dialog.showOpenDialog(win, opts) : await dialog.showOpenDialog(opts);
      return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0]!;
    },
  };
  try {
    services = createServices({
      workspace: resolveWorkspace(process.argv),
      mode: 'electron',
      workerScript: defaultWorkerScript(import.meta.url),
      platform,
    });
  } catch (e) {
    dialog.showErrorBox('SafeTune Workbench cannot start', (e as Error).message);
    app.exit(1);
    return;
  }
  bindIpc(createDispatcher(createHandlers(services)), services.events, isTrustedSender);

  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'SafeTune Workbench',
    backgroundColor: '#f6f7f9',
    webPreferences: secureWebPreferences(policy.preload),
  });
  win.once('ready-to-show', () => win.show());
  await win.loadURL(policy.rendererUrl);
}

/** No permission is ever granted, asked for or checked true, and no device chooser picks anything. */
function denyPermissions(ses: Session): void {
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
  ses.on('select-hid-device', (event, _details, callback) => {
    event.preventDefault();
    callback();
  });
  ses.on('select-usb-device', (event, _details, callback) => {
    event.preventDefault();
    callback();
  });
  ses.on('select-serial-port', (event, _ports, _wc, callback) => {
    event.preventDefault();
    callback('');
  });
}

app.on('window-all-closed', () => app.quit());

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || !services) return;
  event.preventDefault();
  quitting = true;
  void services.close().finally(() => app.quit());
});

main().catch((e) => {
  console.error(e);
  app.exit(1);
});
