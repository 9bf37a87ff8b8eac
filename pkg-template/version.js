// @ts-check
/** The package version (kept equal to package.json's by a test); names the model cache and goes into evidence manifests. */
export const VERSION = '0.1.0';
