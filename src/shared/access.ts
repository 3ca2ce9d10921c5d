/**
 * What a workspace lets the app touch: folders and files the user granted for reading, and the
 * OpenAI-compatible servers evaluations may call. Enforced in src/main/access for every call that
 * arrives through the contract (browser mode and the desktop window alike).
 */
import { z } from 'zod';

/** A folder (and everything below it) or a single file the user granted for reading. */
export const Grant = z.object({
  id: z.number().int().positive(),
  path: z.string(),
  kind: z.enum(['folder', 'file']),
  createdAt: z.string(),
});
export type Grant = z.infer<typeof Grant>;

/** Where the app may read and write on its own, and what the user granted. */
export const AccessFolders = z.object({
  /** Always readable; the app writes only in its own folders inside it. */
  workspace: z.string(),
  /** Where training mixes and merged models are written (names chosen by the app). */
  exportsDir: z.string(),
  grants: z.array(Grant),
});

/** Absolute path typed by the user (a grant, a folder to browse). */
export const AccessPath = z.string().trim().min(1, 'path must not be empty').max(4096, 'path must be at most 4096 characters');

/** An OpenAI-compatible server the user configured for evaluations (its API key never leaves the main process). */
export const Endpoint = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  baseUrl: z.string(),
  hasApiKey: z.boolean(),
  createdAt: z.string(),
});
export type Endpoint = z.infer<typeof Endpoint>;

export const NewEndpoint = z
  .object({
    baseUrl: z.string().trim().min(1, 'the server URL must not be empty').max(2048),
    name: z.string().trim().max(120).optional(),
    /** Sent as `Authorization: Bearer <key>` to this server only. */
    apiKey: z.string().trim().max(4096).optional(),
  })
  .strict();

export const BrowseEntry = z.object({
  name: z.string(),
  /** Absolute path as the user sees it (inside the browsed folder). */
  path: z.string(),
  kind: z.enum(['folder', 'file']),
  /** Bytes for files; null for folders. */
  size: z.number().nullable(),
});
export type BrowseEntry = z.infer<typeof BrowseEntry>;

export const BrowseResult = z.object({
  /** The folder listed, or null for the list of readable places (workspace and grants). */
  path: z.string().nullable(),
  /** The folder above, when it is readable too (null: back to the list of readable places). */
  parent: z.string().nullable(),
  entries: z.array(BrowseEntry),
  /** More entries than one listing returns: the rest are left out. */
  truncated: z.boolean(),
});
export type BrowseResult = z.infer<typeof BrowseResult>;
