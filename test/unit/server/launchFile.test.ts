import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openInBrowser, writeLaunchFile } from '../../../src/main/server/launchFile';
import { tempDir } from '../../helpers/services';

const t = tempDir('safetune-launch-test-');
afterAll(() => t.cleanup());
const url = 'http://127.0.0.1:8765/#token=abc_DEF-123';

describe.skipIf(process.platform === 'win32')('launch file', () => {
  it('is a 0600 file in a 0700 folder that redirects to the tokenised URL, deleted after a delay', async () => {
    const launch = writeLaunchFile(url, { parentDir: t.dir, deleteAfterMs: 200 });
    expect(statSync(launch.path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(launch.path)).mode & 0o777).toBe(0o700);
    const html = readFileSync(launch.path, 'utf8');
    expect(html).toContain(`<meta http-equiv="refresh" content="0;url=${url}">`);
    expect(html).toContain(`window.location.replace("${url}")`);
    expect(html).toContain('<meta name="referrer" content="no-referrer">');
    await new Promise((r) => setTimeout(r, 600));
    expect(existsSync(dirname(launch.path))).toBe(false);
  });

  it('is deleted at once by remove(), which may be called twice', () => {
    const launch = writeLaunchFile(url, { parentDir: t.dir });
    launch.remove();
    launch.remove();
    expect(existsSync(dirname(launch.path))).toBe(false);
  });

  it('escapes what it writes into the page', () => {
    const launch = writeLaunchFile('http://127.0.0.1:1/#"><script>x</script>', { parentDir: t.dir });
    const html = readFileSync(launch.path, 'utf8');
    launch.remove();
    expect(html).not.toContain('"><script>x');
    expect(html).toContain('&quot;&gt;&lt;script&gt;x');
    expect(html).toContain('"http://127.0.0.1:1/#\\">\\u003cscript>x\\u003c/script>"');
  });

  it('opens the file with $BROWSER when set, with only the file as argument', () => {
    expect(openInBrowser('/tmp/x.html', { BROWSER: 'true --new-tab %s' })).toEqual(['true', '--new-tab', '/tmp/x.html']);
    expect(openInBrowser('/tmp/x.html', { BROWSER: 'true' })).toEqual(['true', '/tmp/x.html']);
    // Linux without a display and without xdg-open: nothing to open with.
    if (process.platform === 'linux') expect(openInBrowser('/tmp/x.html', { PATH: '' })).toBeNull();
  });
});
