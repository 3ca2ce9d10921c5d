import type { Command } from '../command';
import { checksumCommand } from './checksum';
import { dataCommand } from './data';
import { detectCommand } from './detect';
import { evalCommand } from './eval';
import { experimentCommand } from './experiment';
import { exportRecipeCommand } from './exportRecipe';
import { generateCommand } from './generate';
import { infoCommand } from './info';
import { jobsCommand } from './jobs';
import { mergeCommand } from './merge';
import { modelCommand } from './model';
import { projectsCommand } from './projects';
import { selectCommand } from './select';
import { serveCommand } from './serve';
import { trainCommand } from './train';

/** Every `safetune` command. A new command: a module in this folder, listed here. */
export const commands: readonly Command[] = [
  projectsCommand,
  jobsCommand,
  checksumCommand,
  dataCommand,
  selectCommand,
  detectCommand,
  evalCommand,
  trainCommand,
  exportRecipeCommand,
  modelCommand,
  mergeCommand,
  experimentCommand,
  generateCommand,
  infoCommand,
  serveCommand,
];
