/**
 * Preload (sandboxed, context-isolated): exposes the contract to the renderer as
 * `window.safetune` and nothing else.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { PreloadBridge } from '../shared/contract';

const CALL_CHANNEL = 'contract:call';
const EVENT_CHANNEL = 'contract:event';

const bridge: PreloadBridge = {
  call: (name, input) => ipcRenderer.invoke(CALL_CHANNEL, name, input),
  subscribe(event, listener) {
    const handler = (_e: IpcRendererEvent, msg: { event: string; payload: unknown }) => {
      if (msg?.event === event) listener(msg.payload);
    };
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, handler);
    };
  },
};

contextBridge.exposeInMainWorld('safetune', bridge);
