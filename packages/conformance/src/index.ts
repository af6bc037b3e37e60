// Public API of @dep/conformance: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export {};
