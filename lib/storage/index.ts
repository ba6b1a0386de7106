// Public entry of storage: working directory checks, camera folders, retention.
export { safeFolderName, assignCameraFolders, truncateUtf8, MAX_FOLDER_NAME_BYTES } from './names';
export { validateWorkingDirectory, ensureFolders, defaultWorkingDirectory, freeSpace, StorageError } from './paths';
export type { ValidateOptions } from './paths';
export { deleteFiles, applyRetentionRules } from './retention';
export type { RetentionRules, DeleteResult } from './retention';
