// Public API of @dep/fence-preempt: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export {};
