import type { Command } from '../command';
import { checksumCommand } from './checksum';
import { infoCommand } from './info';
import { jobsCommand } from './jobs';
import { projectsCommand } from './projects';
import { serveCommand } from './serve';

/** Every `safetune` command. A new command: a module in this folder, listed here. */
export const commands: readonly Command[] = [projectsCommand, jobsCommand, checksumCommand, infoCommand, serveCommand];
