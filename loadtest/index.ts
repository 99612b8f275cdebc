// What tests and scripts use from the load tester.
export { runLoadTest, type LoadTestOptions, type PublishOptions } from './loadTest.js';
export { runViewers, type ViewerRun, type ViewerRunOptions } from './runViewers.js';
export { Publisher, type PublisherOptions, type PublisherStats } from './publisher.js';
export { Viewer, type ViewerOptions, type ViewerResult } from './viewer.js';
export { sharedCertificate } from './certificate.js';
export { formatSummary, type Summary } from './report.js';
export { percentiles, type Percentiles } from './stats.js';
