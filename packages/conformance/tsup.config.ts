// The shared build of every @dep package: see tsup.base.ts at the repository root.
import { packageConfig } from '../../tsup.base.js';

export default packageConfig();
