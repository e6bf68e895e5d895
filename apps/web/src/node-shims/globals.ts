import { Buffer } from 'buffer';

/**
 * Node globals the engine libraries use: `Buffer` (some modules make constants with it when they
 * load), and `setImmediate`, with which the data pipeline yields between batches it prepares
 * ahead; in the page a MessageChannel gives the same "after pending events, without a timer's
 * minimum delay". `process` is left undefined on purpose: TF.js takes its presence to mean Node.
 * Imported first by main.tsx, so it runs before any library module.
 */
type Callback = () => void;

function installSetImmediate(): void {
  const scope = globalThis as { setImmediate?: (callback: Callback) => void };
  if (typeof scope.setImmediate === 'function') return;
  const queue: Callback[] = [];
  const channel = new MessageChannel();
  channel.port1.onmessage = () => queue.shift()?.();
  scope.setImmediate = (callback: Callback) => {
    queue.push(callback);
    channel.port2.postMessage(null);
  };
}

installSetImmediate();
(globalThis as { Buffer?: unknown }).Buffer ??= Buffer;
