/** The public interface of progress/: what other folders may use (see ARCHITECTURE.md). */
export { Progress, type StepProgress } from './events.js';
export { createProgressSink, type ProgressMode } from './renderers.js';
