import type { Backend } from '../backend.js';
import type { Plan } from '../plan.js';
import { runPlan, runStep } from './run.js';

/** The pure-TypeScript backend: slow, simple, always available. Runs on the calling thread. */
export function createReferenceBackend(plan: Plan): Backend {
  return {
    name: 'reference',
    isa: 'js',
    threads: 1,
    activationBytes: plan.arenaSize * 4,
    run: async (input, steps) => runPlan(plan, input, steps),
    profile: async (input) => {
      const arena = new Float32Array(plan.arenaSize);
      arena.set(input, plan.input);
      return Float64Array.from(plan.steps, (step) => {
        const start = performance.now();
        runStep(step, arena);
        return performance.now() - start;
      });
    },
    dispose: () => {},
  };
}
