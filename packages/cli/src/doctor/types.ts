/** The outcome of one `quintet doctor` check. */
export interface CheckResult {
  name: string;
  /** ok: works; fail: does not; skip: not configured or optional and absent. */
  status: "ok" | "fail" | "skip";
  /** A failed required check makes doctor exit non-zero; an optional one is only reported. */
  required: boolean;
  detail: string;
  /** How to fix a failure, one sentence. */
  fix?: string;
}
