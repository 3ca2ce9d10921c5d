// scripts/flip-fuses.js: the fuses a packaged SafeTune Workbench ships with, the config it hands to
// @electron/fuses, and — where @electron/fuses is installed — the bytes it changes in a binary
// carrying a fuse wire. (No real Electron binary is flipped here: none can be downloaded.)
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/services';

interface FusesLib {
  FuseVersion: { V1: string };
  FuseV1Options: Record<string, number | string>;
  FuseState: { ENABLE: number; DISABLE: number };
}
interface FlipFusesScript {
  FUSES: Record<string, boolean>;
  fuseConfig(fuses: Record<string, boolean>, lib: Pick<FusesLib, 'FuseVersion' | 'FuseV1Options'>, extra?: object): Record<string, unknown>;
  flipSafeTuneFuses(path: string, opts?: { lib?: unknown }): Promise<Record<string, boolean>>;
}

const scriptUrl = new URL('../../../scripts/flip-fuses.js', import.meta.url);
const script = (await import(/* @vite-ignore */ scriptUrl.href)) as FlipFusesScript;
const FUSES_PACKAGE = '@electron/fuses';
const fusesLib = (await import(/* @vite-ignore */ FUSES_PACKAGE).catch(() => null)) as FusesLib | null;

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** Wire indices of FuseV1Options in @electron/fuses 2.x (= the order of Electron's fuse wire). */
const V1_INDICES = {
  RunAsNode: 0,
  EnableCookieEncryption: 1,
  EnableNodeOptionsEnvironmentVariable: 2,
  EnableNodeCliInspectArguments: 3,
  EnableEmbeddedAsarIntegrityValidation: 4,
  OnlyLoadAppFromAsar: 5,
  LoadBrowserProcessSpecificV8Snapshot: 6,
  GrantFileProtocolExtraPrivileges: 7,
  WasmTrapHandlers: 8,
};

describe('flip-fuses', () => {
  it('turns off running as Node, NODE_OPTIONS, --inspect and file:// privileges, and turns on cookie encryption and asar-only loading with integrity checks', () => {
    expect(script.FUSES).toEqual({
      RunAsNode: false,
      EnableCookieEncryption: true,
      EnableNodeOptionsEnvironmentVariable: false,
      EnableNodeCliInspectArguments: false,
      EnableEmbeddedAsarIntegrityValidation: true,
      OnlyLoadAppFromAsar: true,
      GrantFileProtocolExtraPrivileges: false,
    });
  });

  it('hands @electron/fuses the wire index of each fuse, and refuses a fuse that library does not know', () => {
    const lib = { FuseVersion: { V1: '1' }, FuseV1Options: V1_INDICES };
    expect(script.fuseConfig(script.FUSES, lib, { resetAdHocDarwinSignature: false })).toEqual({
      version: '1',
      resetAdHocDarwinSignature: false,
      0: false,
      1: true,
      2: false,
      3: false,
      4: true,
      5: true,
      7: false,
    });
    const { GrantFileProtocolExtraPrivileges: _, ...older } = V1_INDICES;
    expect(() => script.fuseConfig(script.FUSES, { ...lib, FuseV1Options: older })).toThrowError(
      '@electron/fuses does not know the fuse GrantFileProtocolExtraPrivileges: update it',
    );
  });

  it('flips exactly those bytes of a binary carrying a fuse wire, and reads them back', async () => {
    if (!fusesLib) return void console.warn('skipped: @electron/fuses is not installed (npm install adds it)');
    expect(fusesLib.FuseV1Options).toMatchObject(V1_INDICES);
    const t = tempDir();
    cleanups.push(t.cleanup);
    // Electron's defaults: RunAsNode, NODE_OPTIONS, --inspect, file:// privileges and wasm trap handlers on.
    const before = Buffer.from([1, 0, 1, 1, 0, 0, 0, 1, 1].map((on) => (on ? 0x31 : 0x30)));
    const head = Buffer.concat([randomBytes(4096), Buffer.from('dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX'), Buffer.from([1, before.length])]);
    const tail = randomBytes(4096);
    const binary = join(t.dir, 'electron');
    writeFileSync(binary, Buffer.concat([head, before, tail]));

    const states = await script.flipSafeTuneFuses(binary, { lib: fusesLib });
    expect(states).toEqual(script.FUSES);
    const after = readFileSync(binary);
    expect(after.subarray(0, head.length)).toEqual(head);
    expect(after.subarray(head.length + before.length)).toEqual(tail);
    const wire = [...after.subarray(head.length, head.length + before.length)].map((b) => String.fromCharCode(b)).join('');
    // RunAsNode off, cookies on, NODE_OPTIONS off, --inspect off, integrity on, asar only on, V8 snapshot as it was, file:// off, wasm as it was.
    expect(wire).toBe('010011001');

    // The command line does the same and prints the states.
    writeFileSync(binary, Buffer.concat([head, before, tail]));
    const cli = spawnSync(process.execPath, [fileURLToPath(scriptUrl), binary], { encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('RunAsNode: off\n');
    expect(
      readFileSync(binary)
        .subarray(head.length, head.length + before.length)
        .toString('latin1'),
    ).toBe('010011001');
  });

  it('fails with a message when the file has no fuse wire', async () => {
    if (!fusesLib) return void console.warn('skipped: @electron/fuses is not installed (npm install adds it)');
    const t = tempDir();
    cleanups.push(t.cleanup);
    const binary = join(t.dir, 'not-electron');
    writeFileSync(binary, randomBytes(1000));
    await expect(script.flipSafeTuneFuses(binary, { lib: fusesLib })).rejects.toThrowError(/Could not find sentinel/);
  });
});
