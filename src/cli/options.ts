// Parsers for commander options: a bad value is a usage error that names the option.
import { InvalidArgumentError } from 'commander';

export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return parsed;
}

export function integerUpTo(max: number): (value: string) => number {
  return (value) => {
    const parsed = positiveInteger(value);
    if (parsed > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}`);
    return parsed;
  };
}

export function numberUpTo(max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === '' || !(parsed > 0 && parsed <= max)) throw new InvalidArgumentError(`expected a number > 0 and ≤ ${max}`);
    return parsed;
  };
}

export function probability(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed >= 0 && parsed <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
  return parsed;
}
