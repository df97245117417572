/** Option parsers shared by the commands: each turns bad values into a usage error (exit 2). */
import { InvalidArgumentError } from 'commander';

export function intOption(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
    return n;
  };
}

export function kOption(value: string): 'auto' | number {
  if (value === 'auto') return 'auto';
  return intOption(1)(value);
}

export function fprOption(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 0.5)) throw new InvalidArgumentError('must be a number in (0, 0.5), e.g. 0.01');
  return n;
}

export function numberOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !(n >= min && n <= max))
      throw new InvalidArgumentError(`must be a number in [${min}, ${max}]`);
    return n;
  };
}
