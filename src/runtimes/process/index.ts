export { ProcessRuntime, type ProcessRuntimeOptions, type RuntimeLogger } from './process-runtime.js';
export { modelConfigEnv, predictiveUnitParameters, type ModelConfigEnv, type SeldonParameter, type SeldonParameterType } from './model-env.js';
