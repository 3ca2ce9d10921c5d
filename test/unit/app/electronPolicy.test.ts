import { describe, expect, it } from 'vitest';
import { APP_SCHEME_PRIVILEGES } from '../../../src/main/electron/appProtocol';
import { isAllowedNavigation, isAllowedRequest, isTrustedSender, secureWebPreferences, windowPolicy } from '../../../src/main/electron/policy';

const p = windowPolicy('/opt/safetune/out/main');

describe('Electron window policy', () => {
  it('isolates and sandboxes the renderer with no Node access', () => {
    expect(secureWebPreferences(p.preload)).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      preload: '/opt/safetune/out/preload/index.cjs',
    });
  });

  it('shows the renderer from app://safetune/, a standard secure origin that cannot bypass the CSP', () => {
    expect(p.rendererUrl).toBe('app://safetune/index.html');
    expect(p.rendererDir).toBe('/opt/safetune/out/renderer');
    expect(APP_SCHEME_PRIVILEGES).toMatchObject({ standard: true, secure: true, bypassCSP: false, allowServiceWorkers: false });
  });

  it('loads only the app origin and devtools: no file://, no look-alike hosts', () => {
    expect(isAllowedRequest('app://safetune/assets/index.js')).toBe(true);
    expect(isAllowedRequest('devtools://devtools/bundled/inspector.html')).toBe(true);
    for (const url of [
      'https://example.com/x.js',
      'http://127.0.0.1:8000/',
      'file:///opt/safetune/out/renderer/assets/index.js',
      'file:///etc/passwd',
      'app://safetune.evil/x.js',
      'app://evil/x.js',
      'app://user@safetune/x.js',
      'app://safetune:8080/x.js',
      'apps://safetune/x.js',
      'not a url',
    ]) {
      expect(isAllowedRequest(url), url).toBe(false);
    }
  });

  it('denies navigation away from the app page but keeps hash routes', () => {
    expect(isAllowedNavigation('app://safetune/index.html', p)).toBe(true);
    expect(isAllowedNavigation('app://safetune/index.html#/projects/1/data', p)).toBe(true);
    expect(isAllowedNavigation('https://evil.example/', p)).toBe(false);
    expect(isAllowedNavigation('app://safetune/other.html', p)).toBe(false);
    expect(isAllowedNavigation('file:///opt/safetune/out/renderer/index.html', p)).toBe(false);
  });

  it('trusts IPC only from the app origin', () => {
    expect(isTrustedSender('app://safetune/index.html')).toBe(true);
    expect(isTrustedSender('app://safetune/index.html#/compare')).toBe(true);
    expect(isTrustedSender('file:///opt/safetune/out/renderer/index.html')).toBe(false);
    expect(isTrustedSender('app://safetune.evil/index.html')).toBe(false);
    expect(isTrustedSender('https://evil.example/')).toBe(false);
    expect(isTrustedSender('')).toBe(false);
  });
});
