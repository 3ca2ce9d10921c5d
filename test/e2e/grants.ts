import { realpathSync } from 'node:fs';
import type { Page } from 'playwright-core';

/**
 * Grants the workspace reading a folder (or file) through Settings → Folders & servers, as a user
 * of browser mode does before importing or adding models from it; waits until it is listed.
 */
export async function grantFolder(page: Page, path: string): Promise<void> {
  await page.getByRole('link', { name: 'Folders & servers' }).click();
  await page.getByLabel('Folder or file to grant').fill(path);
  await page.getByRole('button', { name: 'Grant', exact: true }).click();
  await page.getByRole('button', { name: `Revoke ${realpathSync(path)}`, exact: true }).waitFor();
}
