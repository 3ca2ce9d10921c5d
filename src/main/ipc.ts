import { BrowserWindow, ipcMain, type IpcMainInvokeEvent } from 'electron';
import type { Dispatch } from './app/dispatch';
import type { EventBus } from './events/bus';
import { AppError } from '../shared/errors';

export const CALL_CHANNEL = 'contract:call';
export const EVENT_CHANNEL = 'contract:event';

/**
 * Binds the contract to Electron IPC: one invoke channel for every call (validated by the same
 * dispatcher the browser server uses) and one push channel for events.
 */
export function bindIpc(dispatch: Dispatch, events: EventBus, isTrustedUrl: (url: string) => boolean): () => void {
  ipcMain.handle(CALL_CHANNEL, async (event: IpcMainInvokeEvent, name: unknown, input: unknown) => {
    const url = event.senderFrame?.url ?? '';
    if (!isTrustedUrl(url)) {
      return { ok: false, error: new AppError('forbidden', 'Calls are only accepted from the app window').toPayload() };
    }
    return dispatch(typeof name === 'string' ? name : String(name), input);
  });
  const off = events.onAny((event, payload) => {
    for (const win of BrowserWindow.getAllWindows()) {
      if (!win.isDestroyed()) win.webContents.send(EVENT_CHANNEL, { event, payload });
    }
  });
  return () => {
    off();
    ipcMain.removeHandler(CALL_CHANNEL);
  };
}
