// Public API of @dep/dma-resv: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export {};
