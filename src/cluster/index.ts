/**
 * Several modeld instances on one store (docs/cluster.md): a lease decides which one runs the
 * controller and the training jobs, the leader shares the endpoints it publishes, and every
 * instance shares its gateway's load so that the leader's autoscaler sees all of it.
 */
export { LeaseLeadership, type LeadershipHooks, type LeaseLeadershipOptions } from './leadership.js';
export { EndpointFollower, PublishingEndpoints } from './shared-endpoints.js';
export { ClusterMembers, type ClusterMembersOptions, type LocalLoad } from './members.js';
