export * from './models.js';
export * from './deployments.js';
export * from './tenants.js';
export * from './events.js';
export * from './clock.js';
export * from './endpoints.js';
export * from './random.js';
export * from './quotas.js';
