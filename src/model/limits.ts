// How big a MobileNet may be. Published MobileNets take 96–224 px at width α ≤ 1.4 (v2 1.4 at 224:
// 6.1 M weights, 12 MiB of fp32 activations layer by layer); the limits leave room for far larger
// inputs and widths while keeping any model, edited file or benchmark option from asking for
// gigabytes: beyond them the plan is refused before anything is allocated.
export const MAX_RESOLUTION = 1024;
export const MAX_ALPHA = 4;
/** Weights and biases of the whole network. */
export const MAX_PARAMETERS = 64 * 2 ** 20;
/** The planner's activation arena (two live tensors), in bytes of fp32. */
export const MAX_ARENA_BYTES = 512 * 2 ** 20;
