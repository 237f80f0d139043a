import { hostname } from "node:os";

/**
 * True when `pid` on `host` names a process that no longer exists: only this host's
 * processes can be checked, and this process is never gone. A process we may not signal
 * (EPERM) exists. Used to take back work (runs, trials, jobs) whose owner was killed.
 */
export function processGone(host: string, pid: number): boolean {
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** This process as `host:pid`, the form {@link ownerProcessGone} reads. */
export function processOwner(): string {
  return `${hostname()}:${process.pid}`;
}

/** {@link processGone} for an owner written as `host:pid[:anything]`. */
export function ownerProcessGone(owner: string): boolean {
  const [host, pid] = owner.split(":");
  return host !== undefined && pid !== undefined && processGone(host, Number(pid));
}
