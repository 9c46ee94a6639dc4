export { ConfigSchema, type Config, type RegionConfig } from './schema.js';
export { defaultConfig } from './defaults.js';
export { loadConfig, compileConfig, dataPaths, type ConfigFlags } from './load.js';
