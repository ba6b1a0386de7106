// Public entry of the catalog (SQLite store of sources, cameras, sync status and downloads).
export { Catalog, openCatalog, buildCameraPaths, isoTime } from './catalog';
export { CatalogError, SourceNameTakenError } from './errors';
export type { CatalogErrorCode } from './errors';
export { SCHEMA_VERSION } from './migrations';
export * from './types';
