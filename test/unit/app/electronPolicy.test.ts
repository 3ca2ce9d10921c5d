import { describe, expect, it } from 'vitest';
import { isAllowedNavigation, isAllowedRequest, isTrustedSender, secureWebPreferences, windowPolicy } from '../../../src/main/electron/policy';

const p = windowPolicy('/opt/safetune/out/main');

describe('Electron window policy', () => {
  it('isolates and sandboxes the renderer with no Node access', () => {
    expect(secureWebPreferences(p.preload)).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      preload: '/opt/safetune/out/preload/index.cjs',
    });
  });

  it('loads only the packaged renderer and devtools', () => {
    expect(isAllowedRequest('file:///opt/safetune/out/renderer/assets/index.js', p)).toBe(true);
    expect(isAllowedRequest('devtools://devtools/bundled/inspector.html', p)).toBe(true);
    for (const url of ['https://example.com/x.js', 'http://127.0.0.1:8000/', 'file:///etc/passwd', 'file:///opt/safetune/out/renderer-evil/x.js']) {
      expect(isAllowedRequest(url, p), url).toBe(false);
    }
  });

  it('denies navigation away from the app page but keeps hash routes', () => {
    expect(isAllowedNavigation('file:///opt/safetune/out/renderer/index.html', p)).toBe(true);
    expect(isAllowedNavigation('file:///opt/safetune/out/renderer/index.html#/projects/1/data', p)).toBe(true);
    expect(isAllowedNavigation('https://evil.example/', p)).toBe(false);
    expect(isAllowedNavigation('file:///opt/safetune/out/renderer/other.html', p)).toBe(false);
  });

  it('trusts IPC only from the packaged renderer', () => {
    expect(isTrustedSender('file:///opt/safetune/out/renderer/index.html', p)).toBe(true);
    expect(isTrustedSender('https://evil.example/', p)).toBe(false);
    expect(isTrustedSender('', p)).toBe(false);
  });
});
