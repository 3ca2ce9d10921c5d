// Flips Electron's fuses on the Electron binary of a packaged SafeTune Workbench, at packaging time
// and before code signing:
//
//   node scripts/flip-fuses.js <Electron executable or .app bundle> [--reset-adhoc-darwin-signature]
//
// It writes the fuses below with @electron/fuses, reads the fuse wire back and fails unless every
// one of them reads as written. Pass --reset-adhoc-darwin-signature for an arm64 macOS build that is
// not signed right afterwards. OnlyLoadAppFromAsar and EnableEmbeddedAsarIntegrityValidation
// require the app to be packed into app.asar (with its integrity hash in Info.plist on macOS);
// a binary that loads out/ from a folder, as `npm start` does, will not start once they are set.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fuses SafeTune Workbench ships with, by their @electron/fuses FuseV1Options names. */
export const FUSES = Object.freeze({
  // The app binary is not a general-purpose Node: no ELECTRON_RUN_AS_NODE (jobs use worker threads).
  RunAsNode: false,
  EnableCookieEncryption: true,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
  // The window is served from app://safetune/, so file:// needs none of its old extra privileges.
  GrantFileProtocolExtraPrivileges: false,
});

/**
 * The config `flipFuses` takes, keyed by the wire indices of the given @electron/fuses module's
 * FuseV1Options; a fuse name that module does not know is an error, not a silent no-op.
 */
export function fuseConfig(fuses, lib, extra = {}) {
  const config = { version: lib.FuseVersion.V1, ...extra };
  for (const [name, on] of Object.entries(fuses)) {
    const index = lib.FuseV1Options[name];
    if (typeof index !== 'number') throw new Error(`@electron/fuses does not know the fuse ${name}: update it`);
    config[index] = on;
  }
  return config;
}

/** The names of the fuses whose state in a read-back fuse wire is not the one asked for. */
export function mismatches(fuses, wire, lib) {
  return Object.entries(fuses)
    .filter(([name, on]) => wire[lib.FuseV1Options[name]] !== (on ? lib.FuseState.ENABLE : lib.FuseState.DISABLE))
    .map(([name]) => name);
}

/** Flips FUSES on the binary and checks them; returns each fuse's state as read back. */
export async function flipSafeTuneFuses(electronPath, { resetAdHocDarwinSignature = false, lib } = {}) {
  const fuses = lib ?? (await import('@electron/fuses'));
  await fuses.flipFuses(electronPath, fuseConfig(FUSES, fuses, { resetAdHocDarwinSignature }));
  const wire = await fuses.getCurrentFuseWire(electronPath);
  const wrong = mismatches(FUSES, wire, fuses);
  if (wrong.length > 0) throw new Error(`${electronPath}: these fuses did not take: ${wrong.join(', ')}`);
  return Object.fromEntries(Object.keys(FUSES).map((name) => [name, wire[fuses.FuseV1Options[name]] === fuses.FuseState.ENABLE]));
}

async function main(args) {
  const paths = args.filter((a) => !a.startsWith('--'));
  if (paths.length !== 1) {
    console.error('Usage: node scripts/flip-fuses.js <Electron executable or .app bundle> [--reset-adhoc-darwin-signature]');
    process.exit(2);
  }
  const states = await flipSafeTuneFuses(paths[0], { resetAdHocDarwinSignature: args.includes('--reset-adhoc-darwin-signature') });
  for (const [name, on] of Object.entries(states)) console.log(`${name}: ${on ? 'on' : 'off'}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
