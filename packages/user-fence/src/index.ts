// Public API of @dep/user-fence: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export {};
