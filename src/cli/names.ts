import { InvalidArgumentError } from '../core/errors.js';
import { checkName } from '../core/validate.js';
import { UsageError } from './errors.js';

/** Throws a usage error (exit 2) unless `name` can be an election name; `what` names it in the message. */
export function checkElectionName(name: string, what = 'election name'): string {
  try {
    return checkName(name, what);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(err.message);
    throw err;
  }
}
