// A text for a person as a catalog key and its parameters. lib decides what to tell (and stays
// free of Node-RED); the caller's catalog words it: the nodes through RED._ and their
// locales/<lang>/<node>.json, other callers through a plain catalog object (catalogTranslate).
// Keys and texts follow i18next, as Node-RED uses it: "__name__" placeholders, and a key with a
// `count` parameter picks "<key>_one" or "<key>_other".

export type MessageParams = Readonly<Record<string, string | number | Message>>;

export interface Message<K extends string = string> {
  readonly key: K;
  readonly params?: MessageParams;
}

/** How a caller words a key: Node-RED's RED._ has this shape. */
export type Translate = (key: string, params?: Record<string, string | number>) => string;

export function message<K extends string>(key: K, params?: MessageParams): Message<K> {
  return params ? { key, params } : { key };
}

/** The text of `m`; a parameter that is itself a message is worded first (a cause inside a status). */
export function say(m: Message, t: Translate): string {
  if (!m.params) return t(m.key);
  const flat: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(m.params)) flat[k] = typeof v === 'object' ? say(v, t) : v;
  return t(m.key, flat);
}

/** A nested catalog such as a locale file's section: `{ status: { synced: "synced __at__" } }`. */
export interface Catalog {
  readonly [key: string]: string | Catalog;
}

function lookup(catalog: Catalog, key: string): string | undefined {
  let at: string | Catalog | undefined = catalog;
  for (const part of key.split('.')) at = typeof at === 'object' ? at[part] : undefined;
  return typeof at === 'string' ? at : undefined;
}

/**
 * A Translate over an English catalog, for callers without Node-RED. Only English plurals
 * (one / other); a missing key comes back as the key, as in i18next.
 */
export function catalogTranslate(catalog: Catalog): Translate {
  return (key, params) => {
    const count = params?.count;
    const plural = typeof count === 'number' ? lookup(catalog, `${key}_${count === 1 ? 'one' : 'other'}`) : undefined;
    const text = plural ?? lookup(catalog, key);
    if (text === undefined) return key;
    return text.replace(/__(\w+)__/g, (whole, name: string) => (params && name in params ? String(params[name]) : whole));
  };
}
