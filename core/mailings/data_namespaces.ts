// Merge namespaces filled by plugins' send data (SendHooks.sendData, merged under the plugin's
// name): the sanitiser and the merge-field report treat blocks over them as the plugin's.
const reserved = new Set<string>();

/** Called by the plugin registry for each plugin with a sendData hook. */
export function reserveDataNamespace(name: string): void {
  reserved.add(name);
}

export function isDataNamespace(name: string): boolean {
  return reserved.has(name);
}
