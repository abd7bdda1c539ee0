import type { Backend } from '../backend.js';
import type { Plan } from '../plan.js';
import { runPlan } from './run.js';

/** The pure-TypeScript backend: slow, simple, always available. Runs on the calling thread. */
export function createReferenceBackend(plan: Plan): Backend {
  return {
    name: 'reference',
    isa: 'js',
    threads: 1,
    activationBytes: plan.arenaSize * 4,
    run: async (input) => runPlan(plan, input),
    dispose: () => {},
  };
}
