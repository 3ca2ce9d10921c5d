// app://safetune/: serves the built renderer folder with its content types and the CSP, and
// nothing outside it — however the path is spelled.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { handleAppRequest, resolveAppPath } from '../../../src/main/electron/appProtocol';
import { CONTENT_SECURITY_POLICY_HEADER } from '../../../src/shared/security';
import { tempDir } from '../../helpers/services';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** <tmp>/renderer (served) beside <tmp>/secret.txt and <tmp>/renderer-evil/x.js (not served). */
function layout(): { root: string; base: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const root = join(t.dir, 'renderer');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>SafeTune</title>');
  writeFileSync(join(root, 'assets', 'index-1.js'), 'console.log(1)');
  writeFileSync(join(root, 'assets', 'index-1.css'), 'body{}');
  writeFileSync(join(root, 'favicon.svg'), '<svg/>');
  writeFileSync(join(t.dir, 'secret.txt'), 'SECRET');
  mkdirSync(join(t.dir, 'renderer-evil'));
  writeFileSync(join(t.dir, 'renderer-evil', 'x.js'), 'SECRET');
  symlinkSync(join(t.dir, 'secret.txt'), join(root, 'assets', 'leak.txt'));
  return { root, base: t.dir };
}

const get = (url: string, root: string, method = 'GET') => handleAppRequest({ url, method }, root);

describe('app:// protocol', () => {
  it('serves the renderer files with their content types, the CSP and nosniff', async () => {
    const { root } = layout();
    const cases: [string, string, string][] = [
      ['app://safetune/index.html', 'text/html; charset=utf-8', '<!doctype html><title>SafeTune</title>'],
      ['app://safetune/', 'text/html; charset=utf-8', '<!doctype html><title>SafeTune</title>'],
      ['app://safetune/assets/index-1.js', 'text/javascript; charset=utf-8', 'console.log(1)'],
      ['app://safetune/assets/index-1.css?v=2#x', 'text/css; charset=utf-8', 'body{}'],
      ['app://safetune/favicon.svg', 'image/svg+xml', '<svg/>'],
    ];
    for (const [url, type, body] of cases) {
      const res = await get(url, root);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type'), url).toBe(type);
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY_HEADER);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toBe(body);
    }
    const head = await get('app://safetune/index.html', root, 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await get('app://safetune/index.html', root, 'POST')).status).toBe(405);
  });

  it('answers 404 for a missing file or a folder', async () => {
    const { root } = layout();
    for (const url of ['app://safetune/nope.js', 'app://safetune/assets', 'app://safetune/assets/']) {
      expect((await get(url, root)).status, url).toBe(404);
    }
  });

  it('never serves anything outside the renderer folder', async () => {
    const { root, base } = layout();
    const attempts = [
      'app://safetune/../secret.txt',
      'app://safetune/assets/../../secret.txt',
      'app://safetune/%2e%2e/secret.txt',
      'app://safetune/.%2E/secret.txt',
      'app://safetune/%2e%2e%2fsecret.txt',
      'app://safetune/assets/..%2f..%2fsecret.txt',
      'app://safetune/..%5csecret.txt',
      'app://safetune/..\\secret.txt',
      'app://safetune//' + join(base, 'secret.txt'),
      'app://safetune/' + encodeURIComponent(join(base, 'secret.txt')),
      'app://safetune/C:%5cWindows%5cwin.ini',
      'app://safetune/index.html%00.js',
      'app://safetune/%E0%A4%A',
      'app://safetune/../renderer-evil/x.js',
      'app://safetune/assets/leak.txt',
      'app://other/index.html',
      'app://safetune.evil/index.html',
      'file://' + join(base, 'secret.txt'),
    ];
    for (const url of attempts) {
      const res = await get(url, root);
      expect(res.status, url).toBe(404);
      expect(await res.text(), url).not.toContain('SECRET');
    }
  });

  it('maps app:// paths into the folder and nothing else', () => {
    expect(resolveAppPath('app://safetune/assets/index-1.js', '/srv/r')).toBe('/srv/r/assets/index-1.js');
    expect(resolveAppPath('app://safetune/a%20b.txt', '/srv/r')).toBe('/srv/r/a b.txt');
    expect(resolveAppPath('app://safetune', '/srv/r')).toBe('/srv/r/index.html');
    expect(resolveAppPath('app://safetune/../r-evil/x', '/srv/r')).toBeNull();
    expect(resolveAppPath('app://safetune/a/./b', '/srv/r')).toBeNull();
  });
});
