// @dep/fence-preempt/scenarios: the RFC's deadlock scenarios as functions (tests run them;
// the demo app replays them with a trace attached).
export { evictionScenario } from './scenarios/eviction.js';
export { foreignResvScenario } from './scenarios/foreign-resv.js';
export { SimUserQueue, type ScenarioDesign, type ScenarioOptions, type ScenarioResult } from './scenarios/world.js';
