import { ValidationError } from "@quintet/core";
import { Rng } from "./rng.js";

/** One row of the synthetic subscription-customer table, as a CSV would hold it. */
export interface CustomerRow {
  customer_id: string;
  signup_date: string;
  region: string;
  plan: string;
  contract: string;
  payment_method: string;
  tenure_months: number;
  monthly_charges: string;
  total_charges: string;
  seats: number;
  support_tickets_90d: number;
  logins_30d: number | null;
  nps_score: number | null;
  discount_pct: number;
  autopay: string;
  last_outage_hours: number;
  churned: "yes" | "no";
}

export interface SyntheticCustomersOptions {
  rows?: number;
  seed?: number;
  /**
   * Add the mess real exports have: numbers as strings with thousands separators and
   * stray spaces, blank cells, inconsistent casing, a few duplicated rows. Default true.
   */
  messy?: boolean;
}

const REGIONS = ["north", "south", "east", "west", "central"] as const;
const PLANS = ["starter", "team", "business", "enterprise"] as const;
const PLAN_PRICE: Record<(typeof PLANS)[number], number> = { starter: 19, team: 49, business: 99, enterprise: 249 };
const CONTRACTS = ["month-to-month", "one-year", "two-year"] as const;
const PAYMENTS = ["card", "bank-transfer", "invoice", "paypal"] as const;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function formatMoney(x: number, messy: boolean, rng: Rng): string {
  const s = x.toFixed(2);
  if (!messy) return s;
  const r = rng.next();
  if (r < 0.05 && x >= 1000) return x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  if (r < 0.08) return ` ${s} `;
  return s;
}

/**
 * A realistic synthetic table of subscription customers with a churn label, for the
 * main job, examples and tests: it needs no download. Churn follows a known model —
 * month-to-month contracts, short tenure, support tickets, outages, falling logins and
 * low NPS raise it; long contracts, autopay and more seats lower it — with interactions
 * (tickets hurt more on short tenure) and noise, so a tree model beats a linear one.
 *
 * @example
 * const rows = syntheticCustomers({ rows: 5000, seed: 7 });
 * writeFileSync("customers.csv", toCsv(rows));
 */
export function syntheticCustomers(options: SyntheticCustomersOptions = {}): CustomerRow[] {
  const n = options.rows ?? 5000;
  const messy = options.messy ?? true;
  if (!Number.isInteger(n) || n < 1 || n > 10_000_000) {
    throw new ValidationError(`rows must be an integer between 1 and 10,000,000, got ${n}`);
  }
  const rng = new Rng(options.seed ?? 42);
  const out: CustomerRow[] = [];
  const start = Date.UTC(2021, 0, 1);
  const end = Date.UTC(2025, 11, 31);
  for (let i = 0; i < n; i++) {
    const plan = rng.choice(PLANS, [0.4, 0.3, 0.2, 0.1]);
    const contract = rng.choice(CONTRACTS, plan === "enterprise" ? [0.2, 0.4, 0.4] : [0.6, 0.25, 0.15]);
    const payment = rng.choice(PAYMENTS, plan === "enterprise" ? [0.2, 0.3, 0.45, 0.05] : [0.55, 0.15, 0.05, 0.25]);
    const region = rng.choice(REGIONS, [0.25, 0.2, 0.2, 0.2, 0.15]);
    const signup = start + Math.floor(rng.next() * (end - start));
    const tenure = Math.max(0, Math.floor((end - signup) / (30.4 * 86400000)));
    const seats =
      plan === "starter" ? 1 : Math.max(1, Math.round(Math.exp(rng.normal(plan === "enterprise" ? 3.5 : 1.8, 0.7))));
    const discount =
      contract === "two-year"
        ? rng.choice([10, 15, 20])
        : contract === "one-year"
          ? rng.choice([0, 5, 10])
          : rng.choice([0, 0, 0, 5]);
    const monthly =
      PLAN_PRICE[plan] * (plan === "starter" ? 1 : Math.sqrt(seats)) * (1 - discount / 100) * (1 + rng.normal(0, 0.03));
    const total = monthly * tenure * (1 + rng.normal(0, 0.02));
    const autopay = payment === "card" || payment === "bank-transfer" ? rng.bernoulli(0.75) : rng.bernoulli(0.15);
    const outage = rng.bernoulli(0.15) ? Math.round(rng.next() * 12 * 10) / 10 : 0;
    const engagement = rng.normal(0, 1);
    const logins = Math.max(0, Math.round(Math.exp(2.3 + 0.5 * engagement + 0.1 * Math.log1p(seats))));
    const tickets = rng.poisson(0.6 + 0.5 * (outage > 4 ? 1 : 0) + 0.3 * Math.max(0, -engagement));
    const nps = Math.max(
      0,
      Math.min(10, Math.round(7 + 1.5 * engagement - 0.6 * tickets - (outage > 4 ? 1 : 0) + rng.normal(0, 1.2))),
    );

    let z = -1.4;
    z += contract === "month-to-month" ? 1.1 : contract === "one-year" ? -0.3 : -1.3;
    z += tenure < 6 ? 0.9 : tenure < 12 ? 0.45 : tenure > 36 ? -0.5 : 0;
    z += 0.35 * tickets * (tenure < 12 ? 1.6 : 0.8);
    z += outage > 4 ? 0.7 : 0;
    z -= 0.55 * engagement;
    z -= 0.18 * (nps - 7);
    z += autopay ? -0.45 : 0.25;
    z += payment === "invoice" && plan !== "enterprise" ? 0.4 : 0;
    z -= 0.25 * Math.log1p(seats);
    z += monthly > 150 && plan !== "enterprise" ? 0.3 : 0;
    z += region === "south" ? 0.15 : 0;
    const churned = rng.bernoulli(sigmoid(z + rng.normal(0, 0.3)));

    const hideLogins = messy && rng.bernoulli(0.04);
    const hideNps = messy && rng.bernoulli(0.12 + (churned ? 0.05 : 0));
    out.push({
      customer_id: `C${String(100000 + i)}`,
      signup_date: new Date(signup).toISOString().slice(0, 10),
      region: messy && rng.bernoulli(0.03) ? region.toUpperCase() : region,
      plan,
      contract,
      payment_method: payment,
      tenure_months: tenure,
      monthly_charges: formatMoney(monthly, messy, rng),
      total_charges: messy && tenure === 0 ? " " : formatMoney(total, messy, rng),
      seats,
      support_tickets_90d: tickets,
      logins_30d: hideLogins ? null : logins,
      nps_score: hideNps ? null : nps,
      discount_pct: discount,
      autopay: autopay ? "yes" : "no",
      last_outage_hours: outage,
      churned: churned ? "yes" : "no",
    });
  }
  if (messy) {
    // Exports often repeat rows; a cleaning step must find them.
    const dups = Math.floor(n * 0.005);
    for (let k = 0; k < dups; k++) out.push({ ...out[rng.int(0, n)]! });
  }
  return out;
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Serialises rows of plain objects to RFC 4180 CSV with a header row. */
export function toCsv(rows: readonly object[]): string {
  if (rows.length === 0) return "";
  const cols = Object.keys(rows[0]!);
  const lines = [cols.map(csvField).join(",")];
  for (const r of rows) lines.push(cols.map((c) => csvField((r as Record<string, unknown>)[c])).join(","));
  return `${lines.join("\n")}\n`;
}
