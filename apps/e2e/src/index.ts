// Public API of @dep/e2e: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export {};
